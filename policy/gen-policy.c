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
	"MAP_TYPE", "MAP_PRIVATE", "MAP_SHARED", "MAP_ANONYMOUS", "MAP_FIXED",
	"MAP_FIXED_NOREPLACE",
	"MSG_NOSIGNAL", "STDIN_FILENO", "STDOUT_FILENO", "STDERR_FILENO",
	"PR_SET_DUMPABLE",
	NULL,
};

/* Values known only when the client loads the filter (policy-bpf.h). */
static const struct {
	const char *token;
	const char *value;            /* enum pfi_bpf_value, by name */
} load_time_values[] = {
	{ "$pid", "PFI_BPF_PID" },    /* the client's own pid */
	{ "$sock", "PFI_BPF_SOCK" },  /* the call socket's fd */
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

static const char *load_time_value(const char *tok)
{
	for (size_t i = 0; i < sizeof load_time_values /
			       sizeof load_time_values[0]; i++)
		if (!strcmp(tok, load_time_values[i].token))
			return load_time_values[i].value;
	return NULL;
}

static void __attribute__((noreturn))
die_unknown(const char *tok, const char *what)
{
	char known[512] = "";
	for (const char *const *k = known_constants; *k; k++) {
		strcat(known, ", ");
		strcat(known, *k);
	}
	die_at("unknown constant '%s' in %s (known: a number, $pid or $sock "
	       "as a whole value%s; join them with '|')", tok, what, known);
}

/* One term of a value: a decimal or 0x number, or a known constant. */
static void check_term(const char *tok, size_t len, const char *what)
{
	char term[64];
	if (len == 0 || len >= sizeof term)
		die_at("empty or overlong term in %s", what);
	memcpy(term, tok, len);
	term[len] = 0;
	if (isdigit((unsigned char)term[0])) {
		char *end;
		errno = 0;
		(void)strtoull(term, &end, 0);
		if (errno || *end)
			die_at("bad number '%s' in %s", term, what);
		return;
	}
	for (const char *const *k = known_constants; *k; k++)
		if (!strcmp(term, *k))
			return;
	die_unknown(term, what);
}

/* A value: terms joined with '|' (MAP_PRIVATE|MAP_ANONYMOUS), or, as a
 * whole value and never in a mask, one of the load-time values. */
static void check_value(const char *tok, const char *what, int may_load)
{
	if (load_time_value(tok)) {
		if (!may_load)
			die_at("'%s' cannot be %s: it is known only when the "
			       "filter is loaded", tok, what);
		return;
	}
	for (const char *t = tok;;) {
		size_t len = strcspn(t, "|");
		check_term(t, len, what);
		if (!t[len])
			return;
		t += len + 1;
	}
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
			check_value(toks[i + 1], "a mask", 0);
			copy_tok(c->mask, sizeof c->mask, toks[i + 1]);
			i += 2;
		}
		if (i + 1 >= n || strcmp(toks[i], "=="))
			die_at("expected 'arg%u == VALUE' or 'arg%u & MASK == "
			       "VALUE'", c->arg, c->arg);
		check_value(toks[i + 1], "a value", 1);
		copy_tok(c->value, sizeof c->value, toks[i + 1]);
		i += 2;
	}
	(*nrules)++;
}

static void emit_datum(FILE *out, const char *tok)
{
	fprintf(out, "(scmp_datum_t)(%s)", load_time_value(tok) ? "0" : tok);
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
		"#include <sys/mman.h>\n#include <sys/prctl.h>\n"
		"#include <sys/resource.h>\n"
		"#include <sys/socket.h>\n#include <unistd.h>\n"
		"#include \"policy.h\"\n\n"
		"const struct pfi_policy_rule %s[] = {\n", display, argv[4]);
	for (size_t i = 0; i < nrules; i++) {
		const struct rule *r = &rules[i];
		fprintf(out, "\t{ \"%s\", SCMP_SYS(%s), %u, %u, {", r->name,
			r->name, r->line, r->nconds);
		if (!r->nconds)
			fputs(" { 0, SCMP_CMP_EQ, PFI_BPF_NONE, 0, 0 }", out);
		for (unsigned k = 0; k < r->nconds; k++) {
			const struct cond *c = &r->conds[k];
			const char *load = load_time_value(c->value);
			fprintf(out, "%s{ %u, %s, %s, ", k ? ", " : " ", c->arg,
				c->masked ? "SCMP_CMP_MASKED_EQ" : "SCMP_CMP_EQ",
				load ? load : "PFI_BPF_NONE");
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
