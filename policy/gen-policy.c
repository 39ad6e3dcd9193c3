/* gen-policy: turns a seccomp allow-list written as reviewable text
 * (policy/client.policy) into the C table the client compiles in.
 *
 *   gen-policy DISPLAY-NAME INPUT OUTPUT.c TABLE-NAME
 *
 * Every system call name is checked with libseccomp on the build
 * machine, so a typo fails the build with
 * "policy/client.policy:LINE: unknown syscall 'xyz'".  The table names
 * each call as SCMP_SYS(name), so the host compiler picks the number
 * for the host's architecture. */
#include <ctype.h>
#include <errno.h>
#include <seccomp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RULES 256
#define MAX_CONDS 6

/* Named constants a policy may use; they are emitted by name and
 * resolved by the host compiler (the generated file includes their
 * headers). */
static const char *const known_constants[] = {
	"PROT_EXEC", "PROT_READ", "PROT_WRITE", "RLIMIT_CORE",
	"MSG_NOSIGNAL", "STDIN_FILENO", "STDOUT_FILENO", "STDERR_FILENO",
	NULL,
};

struct cond {
	unsigned arg;
	int masked;
	char mask[64];
	char value[64];
};

struct rule {
	char name[64];
	unsigned line;
	unsigned nconds;
	struct cond conds[MAX_CONDS];
};

static const char *display;
static unsigned lineno;

static void __attribute__((noreturn, format(printf, 1, 2)))
die_at(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s:%u: ", display, lineno);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* A value: decimal or 0x number, a known constant, or $pid. */
static void check_value(const char *tok, const char *what)
{
	if (!strcmp(tok, "$pid"))
		return;
	if (isdigit((unsigned char)tok[0])) {
		char *end;
		errno = 0;
		(void)strtoull(tok, &end, 0);
		if (errno || *end)
			die_at("bad number '%s' as %s", tok, what);
		return;
	}
	for (const char *const *k = known_constants; *k; k++)
		if (!strcmp(tok, *k))
			return;
	die_at("unknown constant '%s' as %s (known: a number, $pid, "
	       "PROT_EXEC, PROT_READ, PROT_WRITE, RLIMIT_CORE, MSG_NOSIGNAL, "
	       "STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO)", tok, what);
}

static unsigned parse_arg(const char *tok)
{
	if (strncmp(tok, "arg", 3) || tok[3] < '0' || tok[3] > '5' || tok[4])
		die_at("expected arg0..arg5, not '%s'", tok);
	return (unsigned)(tok[3] - '0');
}

static void copy_tok(char *dst, size_t cap, const char *tok)
{
	if (strlen(tok) >= cap)
		die_at("'%s' is too long", tok);
	strcpy(dst, tok);
}

static void parse_line(char *line, struct rule *rules, size_t *nrules)
{
	char *hash = strchr(line, '#');
	char *toks[32];
	size_t n = 0;

	if (hash)
		*hash = 0;
	for (char *t = strtok(line, " \t\r\n"); t; t = strtok(NULL, " \t\r\n")) {
		if (n == sizeof toks / sizeof *toks)
			die_at("too many words");
		toks[n++] = t;
	}
	if (n == 0)
		return;          /* blank or comment-only line */
	if (!hash)
		die_at("'%s' has no comment: say why it is needed after '#'",
		       toks[0]);
	const char *why = hash + 1;
	while (isspace((unsigned char)*why))
		why++;
	if (!*why)
		die_at("'%s' has an empty comment: say why it is needed",
		       toks[0]);

	if (*nrules == MAX_RULES)
		die_at("too many rules");
	struct rule *r = &rules[*nrules];
	memset(r, 0, sizeof *r);
	r->line = lineno;
	copy_tok(r->name, sizeof r->name, toks[0]);
	if (seccomp_syscall_resolve_name(r->name) == __NR_SCMP_ERROR)
		die_at("unknown syscall '%s'", r->name);
	for (size_t i = 0; i < *nrules; i++)
		if (!strcmp(rules[i].name, r->name))
			die_at("syscall '%s' is listed twice (first on line "
			       "%u): put all its conditions on one line",
			       r->name, rules[i].line);

	/* conditions: argN == V  or  argN & M == V */
	size_t i = 1;
	while (i < n) {
		if (r->nconds == MAX_CONDS)
			die_at("too many conditions");
		struct cond *c = &r->conds[r->nconds++];
		c->arg = parse_arg(toks[i++]);
		for (unsigned k = 0; k + 1 < r->nconds; k++)
			if (r->conds[k].arg == c->arg)
				die_at("arg%u is compared twice", c->arg);
		if (i < n && !strcmp(toks[i], "&")) {
			if (i + 1 >= n)
				die_at("'&' needs a mask");
			c->masked = 1;
			check_value(toks[i + 1], "a mask");
			copy_tok(c->mask, sizeof c->mask, toks[i + 1]);
			i += 2;
		}
		if (i + 1 >= n || strcmp(toks[i], "=="))
			die_at("expected 'arg%u == VALUE' or 'arg%u & MASK == "
			       "VALUE'", c->arg, c->arg);
		check_value(toks[i + 1], "a value");
		copy_tok(c->value, sizeof c->value, toks[i + 1]);
		i += 2;
	}
	(*nrules)++;
}

static void emit_datum(FILE *out, const char *tok)
{
	fprintf(out, "(scmp_datum_t)(%s)", strcmp(tok, "$pid") ? tok : "0");
}

int main(int argc, char **argv)
{
	static struct rule rules[MAX_RULES];
	size_t nrules = 0;
	char line[1024];

	if (argc != 5) {
		fprintf(stderr, "usage: gen-policy DISPLAY-NAME INPUT OUTPUT.c "
			"TABLE-NAME\n");
		return 2;
	}
	display = argv[1];
	FILE *in = fopen(argv[2], "r");
	if (!in) {
		fprintf(stderr, "%s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	while (fgets(line, sizeof line, in)) {
		lineno++;
		if (!strchr(line, '\n') && !feof(in))
			die_at("line too long");
		parse_line(line, rules, &nrules);
	}
	if (ferror(in)) {
		fprintf(stderr, "%s: read error\n", argv[2]);
		return 1;
	}
	fclose(in);
	lineno = 0;
	if (nrules == 0)
		die_at("no system calls listed");

	FILE *out = fopen(argv[3], "w");
	if (!out) {
		fprintf(stderr, "%s: %s\n", argv[3], strerror(errno));
		return 1;
	}
	fprintf(out, "/* Generated from %s by policy/gen-policy.c: "
		"do not edit. */\n"
		"#include <sys/mman.h>\n#include <sys/resource.h>\n"
		"#include <sys/socket.h>\n#include <unistd.h>\n"
		"#include \"policy.h\"\n\n"
		"const struct pfi_policy_rule %s[] = {\n", display, argv[4]);
	for (size_t i = 0; i < nrules; i++) {
		const struct rule *r = &rules[i];
		fprintf(out, "\t{ \"%s\", SCMP_SYS(%s), %u, %u, {", r->name,
			r->name, r->line, r->nconds);
		if (!r->nconds)
			fputs(" { 0, SCMP_CMP_EQ, 0, 0, 0 }", out);
		for (unsigned k = 0; k < r->nconds; k++) {
			const struct cond *c = &r->conds[k];
			fprintf(out, "%s{ %u, %s, %d, ", k ? ", " : " ", c->arg,
				c->masked ? "SCMP_CMP_MASKED_EQ" : "SCMP_CMP_EQ",
				!strcmp(c->value, "$pid"));
			emit_datum(out, c->masked ? c->mask : "0");
			fputs(", ", out);
			emit_datum(out, c->value);
			fputs(" }", out);
		}
		fputs(" } },\n", out);
	}
	fprintf(out, "};\nconst size_t %s_len = %zu;\n", argv[4], nrules);
	if (fclose(out) != 0) {
		fprintf(stderr, "%s: write error\n", argv[3]);
		return 1;
	}
	return 0;
}
