#!/bin/bash
# Time-bounded fuzz campaign over the codec harnesses in fuzz/.
#
#   .ci/fuzz-campaign.sh [BUILD_DIR]                  CI: fuzz, never write fuzz/corpus
#   .ci/fuzz-campaign.sh --merge SECONDS [--commit] [BUILD_DIR]
#                         longer run, then merge new coverage into
#                         fuzz/corpus and minimise it (and commit it)
#
# BUILD_DIR (default build-fuzz) receives the binaries, scratch corpora,
# artifacts and logs.  Environment:
#   FUZZ_SECONDS   total libFuzzer time, split over the harnesses (120)
#   FUZZ_AFL_SECONDS total AFL++ time, split likewise; 0 skips AFL++ (50)
#   FUZZ_TARGETS   harnesses to run (all of fuzz/fuzz_*.c: greeting xdata
#                  status request options word callerstate
#                  extrafds)
#   CC_FUZZ        clang to build the libFuzzer binaries with (clang)
#   FUZZ_PERL_SECONDS  time for each server decoder fuzzer (fuzz/perl/:
#                  request, caller-state and extra-fds, differential;
#                  PREFORK_INTERP, model; fuzz/python/: request,
#                  caller-state and extra-fds, differential); 0 skips (30)
#   FUZZ_CORPUS_CACHE  a directory kept between runs (a CI cache): read as
#                  more corpus, and after a clean run the inputs that add
#                  coverage are merged into it, so the corpus keeps
#                  growing from run to run without touching the tree
# After the libFuzzer runs, each harness is rebuilt with clang's source
# coverage and run over its whole corpus: line, branch and function
# coverage of the code it targets is reported (needs llvm-cov and
# llvm-profdata, from llvm-14).
# Exit status: 0 clean, 1 a harness crashed / found a bug (reproducer hex
# dumps are in the log), 2 usage or build problem.
set -euo pipefail

die() { echo "fuzz-campaign: $*" >&2; exit 2; }

usage="usage: $0 [--merge SECONDS [--commit]] [BUILD_DIR]"
merge=0 commit=0
if [ "${1:-}" = --merge ]; then
	[ $# -ge 2 ] && [ "$2" -gt 0 ] 2>/dev/null ||
		die "--merge needs a number of seconds"
	merge=1
	FUZZ_SECONDS=$2
	shift 2
	if [ "${1:-}" = --commit ]; then
		commit=1
		shift
	fi
fi
case "${1:-}" in -*) die "$usage" ;; esac
[ $# -le 1 ] || die "$usage"

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${1:-build-fuzz}
mkdir -p "$build"
build=$(cd "$build" && pwd)

targets=${FUZZ_TARGETS:-greeting xdata status request options word callerstate extrafds}
fuzz_seconds=${FUZZ_SECONDS:-120}
afl_seconds=${FUZZ_AFL_SECONDS:-50}
perl_seconds=${FUZZ_PERL_SECONDS:-30}
cc=${CC_FUZZ:-clang}
# What src/meson.build calls codec_sources: pure code, no config.h.
codec_sources="src/protocol.c src/options.c src/problem.c"
ntargets=$(echo $targets | wc -w)
[ "$ntargets" -gt 0 ] || die "FUZZ_TARGETS is empty"
for t in $targets; do
	[ -f "fuzz/fuzz_$t.c" ] || die "no harness fuzz/fuzz_$t.c"
done
cache=${FUZZ_CORPUS_CACHE:-}
if [ -n "$cache" ]; then
	mkdir -p "$cache" || die "cannot create FUZZ_CORPUS_CACHE $cache"
	cache=$(cd "$cache" && pwd)
fi
if [ "$commit" = 1 ]; then
	git diff --cached --quiet ||
		die "--commit: the index already holds staged changes; commit or unstage them first"
fi

# The corpus directories a harness reads: the tree's, then the cache's.
corpus_dirs() {
	echo "fuzz/corpus/$1"
	if [ -n "$cache" ]; then
		mkdir -p "$cache/$1"
		echo "$cache/$1"
	fi
}

# The source file a harness is about, and (an awk regex) the functions
# in it that the harness drives, for its coverage report.
target_source() {
	case $1 in
	options) echo src/options.c ;;
	*) echo src/protocol.c ;;
	esac
}
target_functions() {
	case $1 in
	greeting) echo 'greeting|xdata_decode|token_char_ok|feature_bit|get_be32' ;;
	xdata) echo 'xdata|token_char_ok|feature_bit' ;;
	status) echo 'status|signal_can_kill|be32' ;;
	request) echo 'request|put_string|be32' ;;
	word) echo 'call_word|stopped_word|signal_stops|status|signal_can_kill|be32' ;;
	callerstate) echo 'caller_state|state_valid|put_entry|limit_text|parse_|umask_decode|key_slot' ;;
	extrafds) echo 'extra_fds|be32' ;;
	*) echo '.' ;;
	esac
}

max_len() {
	case $1 in
	greeting|xdata) echo 4200 ;;   # room for xdata past PFI_XDATA_MAX
	status|word) echo 64 ;;
	options) echo 1024 ;;
	*) echo 4096 ;;
	esac
}

export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:symbolize=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

failed=0
show_reproducer() {   # HARNESS FILE
	echo "=== REPRODUCER for $1: $2 ($(wc -c <"$2") bytes) ==="
	od -A x -t x1z -v "$2" | head -n 256
	echo "=== rerun: $build/fuzz-$1 $2"
	echo "===    or: <meson-build-dir>/fuzz/fuzz-regress-$1 $2"
	echo "=== once fixed, keep it: cp $2 fuzz/corpus/$1/regress-$(sha1sum <"$2" | cut -c1-16)"
	failed=1
}

# ---- build ----------------------------------------------------------
# options.c includes meson's config.h; these direct builds get one of
# their own with the same names (the values only show in --help text).
mkdir -p "$build/config"
cat >"$build/config/config.h" <<'EOF_CONFIG'
#pragma once
#define PFI_MODULE_VERSION "fuzz"
#define PFI_PROGRAM "prefork-interp-hardened"
#define PFI_SANDBOX 1
#define PFI_SHEBANG_PATH "/usr/bin/prefork-interp-hardened"
#define PFI_VERSION "fuzz"
EOF_CONFIG
flags="-g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
       -fno-sanitize-recover=all -D_GNU_SOURCE -Isrc -Ifuzz -I$build/config"
echo "fuzz-campaign: building libFuzzer harnesses with $cc into $build"
for t in $targets; do
	# shellcheck disable=SC2086
	"$cc" $flags "fuzz/fuzz_$t.c" $codec_sources -o "$build/fuzz-$t" ||
		die "building fuzz-$t failed"
done

# ---- libFuzzer ------------------------------------------------------
per=$(( fuzz_seconds / ntargets ))
[ "$per" -ge 1 ] || per=1
mkdir -p "$build/logs"
summary="$build/logs/summary.txt"
printf '%-9s %6s %10s %8s %6s %6s %6s\n' harness secs execs exec/s cov ft corp \
	>"$summary"
for t in $targets; do
	work="$build/corpus/$t" art="$build/artifacts/$t" log="$build/logs/libfuzzer-$t.log"
	rm -rf "$work" "$art"
	mkdir -p "$work" "$art"
	echo "fuzz-campaign: libFuzzer $t for ${per}s"
	# New inputs go to the first directory (scratch); fuzz/corpus is
	# only read.
	rc=0 start=$SECONDS
	# shellcheck disable=SC2046
	"$build/fuzz-$t" -max_total_time="$per" -max_len="$(max_len "$t")" \
		-dict=fuzz/pfi.dict -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$art/" \
		"$work" $(corpus_dirs "$t") >"$log" 2>&1 || rc=$?
	took=$(( SECONDS - start ))
	last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -n 1 || true)
	cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
	ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
	corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	printf '%-9s %6s %10s %8s %6s %6s %6s\n' "$t" "$took" "${execs:--}" \
		"${eps:--}" "${cov:--}" "${ft:--}" "${corp:--}" >>"$summary"
	found=$(find "$art" -type f | sort)
	if [ "$rc" -ne 0 ] || [ -n "$found" ]; then
		echo "fuzz-campaign: libFuzzer $t FAILED after ${took}s (exit $rc); log $log:"
		grep -E -A40 'ERROR:|invariant violated|runtime error|deadly signal' \
			"$log" | head -n 80 || tail -n 60 "$log"
		for f in $found; do show_reproducer "$t" "$f"; done
		failed=1
	fi
done
cat "$summary"

# ---- AFL++ ----------------------------------------------------------
afl_cc=""
for c in afl-clang-lto afl-clang-fast; do
	if command -v "$c" >/dev/null; then afl_cc=$c; break; fi
done
if [ "$afl_seconds" -gt 0 ] && [ -n "$afl_cc" ] && command -v afl-fuzz >/dev/null
then
	aper=$(( afl_seconds / ntargets ))
	[ "$aper" -ge 5 ] || aper=5
	for t in $targets; do
		# -fsanitize=fuzzer makes afl-clang-* link AFL++'s libAFLDriver.
		# shellcheck disable=SC2086
		AFL_QUIET=1 AFL_USE_ASAN=1 AFL_USE_UBSAN=1 "$afl_cc" -g -O1 \
			-fsanitize=fuzzer -D_GNU_SOURCE -Isrc -Ifuzz -I"$build/config" \
			"fuzz/fuzz_$t.c" $codec_sources -o "$build/afl-$t" \
			>"$build/logs/afl-build-$t.log" 2>&1 ||
			die "building afl-$t failed (see $build/logs/afl-build-$t.log)"
		out="$build/afl/$t"
		mkdir -p "$build/afl"
		rm -rf "$out"
		echo "fuzz-campaign: AFL++ ($afl_cc) $t for ${aper}s"
		rc=0
		env -u ASAN_OPTIONS -u UBSAN_OPTIONS \
		AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
		AFL_NO_UI=1 AFL_NO_AFFINITY=1 AFL_SKIP_CRASHES=0 \
			afl-fuzz -V "$aper" -m none -t 1000 -G "$(max_len "$t")" \
			-x fuzz/pfi.dict \
			-i "fuzz/corpus/$t" -o "$out" -- "$build/afl-$t" \
			>"$build/logs/afl-$t.log" 2>&1 || rc=$?
		stats="$out/default/fuzzer_stats"
		if [ -f "$stats" ]; then
			sed -n -E 's/^(execs_done|execs_per_sec|corpus_count|bitmap_cvg|saved_crashes|saved_hangs) *: /  afl '"$t"' \1: /p' "$stats"
		fi
		if [ "$rc" -ne 0 ] || [ ! -f "$stats" ]; then
			echo "fuzz-campaign: afl-fuzz $t did not run (exit $rc):"
			tail -n 30 "$build/logs/afl-$t.log"
			failed=1
		fi
		for f in $(find "$out/default/crashes" -type f -name 'id:*' 2>/dev/null | sort); do
			echo "fuzz-campaign: AFL++ $t crash"
			show_reproducer "$t" "$f"
		done
	done
else
	echo "fuzz-campaign: AFL++ skipped (FUZZ_AFL_SECONDS=$afl_seconds, compiler '${afl_cc:-none}')"
fi

# ---- the servers' decoders (Perl, Python): differential against C ----
# A differential fuzzer's failure: what disagreed, its exit, its log.
disagreement() {
	echo "fuzz-campaign: $1 disagree (exit $2); log $3:"
	head -n 20 "$3"
	failed=1
}

# How to rerun each input saved in ART (the command, then the file) and
# which corpus directory keeps it once fixed.
rerun_lines() {
	[ -d "$1" ] || return 0
	for f in $(find "$1" -type f | sort); do
		echo "=== rerun: $2 $f"
		echo "=== once fixed, keep it: cp $f fuzz/corpus/$3/"
	done
}

# The C side (fuzz/perl/request-oracle.c) runs under ASan+UBSan too.
if [ "$perl_seconds" -gt 0 ]; then
	art="$build/artifacts/perl-request" log="$build/logs/perl-request.log"
	rm -rf "$art"
	mkdir -p "$art"
	# shellcheck disable=SC2086
	"$cc" -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
		-fno-sanitize-recover=all -D_GNU_SOURCE -Isrc -I"$build/config" \
		fuzz/perl/request-oracle.c $codec_sources -o "$build/request-oracle" ||
		die "building request-oracle failed"
	echo "fuzz-campaign: Perl request decoder vs C for ${perl_seconds}s"
	rc=0
	perl fuzz/perl/fuzz_request.pl --oracle "$build/request-oracle" \
		--seconds "$perl_seconds" --save "$art" \
		fuzz/corpus/perl-request fuzz/corpus/request >"$log" 2>&1 || rc=$?
	tail -n 1 "$log"
	envlog="$build/logs/perl-env.log" erc=0
	echo "fuzz-campaign: PREFORK_INTERP parser vs its model for ${perl_seconds}s"
	perl fuzz/perl/fuzz_env.pl --seconds "$perl_seconds" >"$envlog" 2>&1 || erc=$?
	tail -n 1 "$envlog"
	if [ "$erc" -ne 0 ]; then
		echo "fuzz-campaign: the PREFORK_INTERP parser and its model disagree (exit $erc); log $envlog"
		failed=1
	fi
	# The servers' caller-state and extra-fds decoders (Perl, Python)
	# and Python's request decoder, against the same oracle.
	csart="$build/artifacts/perl-callerstate" cslog="$build/logs/perl-callerstate.log" csrc=0
	efart="$build/artifacts/perl-extrafds" eflog="$build/logs/perl-extrafds.log" efrc=0
	pyart="$build/artifacts/python-decoders" pylog="$build/logs/python-decoders.log" pyrc=0
	rm -rf "$csart" "$efart" "$pyart"
	mkdir -p "$csart" "$efart" "$pyart"
	echo "fuzz-campaign: Perl caller-state decoder vs C for ${perl_seconds}s"
	perl fuzz/perl/fuzz_callerstate.pl --oracle "$build/request-oracle" \
		--seconds "$perl_seconds" --save "$csart" \
		fuzz/corpus/callerstate >"$cslog" 2>&1 || csrc=$?
	tail -n 1 "$cslog"
	echo "fuzz-campaign: Perl extra-fds decoder vs C for ${perl_seconds}s"
	perl fuzz/perl/fuzz_extrafds.pl --oracle "$build/request-oracle" \
		--seconds "$perl_seconds" --save "$efart" \
		fuzz/corpus/extrafds >"$eflog" 2>&1 || efrc=$?
	tail -n 1 "$eflog"
	echo "fuzz-campaign: Python request, caller-state and extra-fds decoders vs C for ${perl_seconds}s"
	python3 fuzz/python/fuzz_decoders.py --oracle "$build/request-oracle" \
		--seconds "$perl_seconds" --save "$pyart" \
		--requests fuzz/corpus/request --requests fuzz/corpus/perl-request \
		--states fuzz/corpus/callerstate \
		--extra-fds fuzz/corpus/extrafds >"$pylog" 2>&1 || pyrc=$?
	tail -n 1 "$pylog"
	orc="$build/request-oracle"
	if [ "$csrc" -ne 0 ]; then
		disagreement "the Perl and C caller-state decoders" "$csrc" "$cslog"
		rerun_lines "$csart" "perl fuzz/perl/fuzz_callerstate.pl --oracle $orc --iterations 0" callerstate
	fi
	if [ "$efrc" -ne 0 ]; then
		disagreement "the Perl and C extra-fds decoders" "$efrc" "$eflog"
		rerun_lines "$efart" "perl fuzz/perl/fuzz_extrafds.pl --oracle $orc --iterations 0" extrafds
	fi
	if [ "$pyrc" -ne 0 ]; then
		disagreement "the Python and C decoders" "$pyrc" "$pylog"
		rerun_lines "$pyart/request" "python3 fuzz/python/fuzz_decoders.py --oracle $orc --iterations 0 --requests" perl-request
		rerun_lines "$pyart/caller-state" "python3 fuzz/python/fuzz_decoders.py --oracle $orc --iterations 0 --states" callerstate
		rerun_lines "$pyart/extra-fds" "python3 fuzz/python/fuzz_decoders.py --oracle $orc --iterations 0 --extra-fds" extrafds
	fi
	if [ "$rc" -ne 0 ]; then
		disagreement "the Perl and C request decoders" "$rc" "$log"
		rerun_lines "$art" "perl fuzz/perl/fuzz_request.pl --oracle $orc --iterations 0" perl-request
	fi
else
	echo "fuzz-campaign: Perl differential fuzzing skipped (FUZZ_PERL_SECONDS=0)"
fi

# The AFL++ queue of a harness, if AFL++ ran.
afl_queue() {
	[ -d "$build/afl/$1/default/queue" ] && echo "$build/afl/$1/default/queue"
	return 0
}

# ---- coverage per harness -------------------------------------------
llvm_tool() {   # NAME: llvm-NAME or llvm-NAME-14
	for c in "llvm-$1" "llvm-$1-14"; do
		if command -v "$c" >/dev/null; then echo "$c"; return; fi
	done
}
cov_tool=$(llvm_tool cov) profdata_tool=$(llvm_tool profdata)
coverage="$build/logs/coverage.txt"
if [ -n "$cov_tool" ] && [ -n "$profdata_tool" ]; then
	printf '%-9s %-16s %9s %10s %9s %6s\n' harness source lines branches \
		functions inputs >"$coverage"
	mkdir -p "$build/cov"
	for t in $targets; do
		bin="$build/cov-$t" prof="$build/cov/$t"
		# shellcheck disable=SC2086
		"$cc" -g -O0 -fprofile-instr-generate -fcoverage-mapping \
			-D_GNU_SOURCE -Isrc -Ifuzz -I"$build/config" "fuzz/fuzz_$t.c" \
			fuzz/regress_main.c $codec_sources -o "$bin" \
			>"$build/logs/cov-build-$t.log" 2>&1 ||
			die "building cov-$t failed (see $build/logs/cov-build-$t.log)"
		rm -f "$prof".*
		# shellcheck disable=SC2046
		LLVM_PROFILE_FILE="$prof.profraw" "$bin" $(corpus_dirs "$t") \
			"$build/corpus/$t" $(afl_queue "$t") \
			>"$build/logs/cov-run-$t.log" 2>&1 ||
			die "the coverage run of $t failed (see $build/logs/cov-run-$t.log)"
		"$profdata_tool" merge -sparse -o "$prof.profdata" "$prof.profraw"
		src=$(target_source "$t")
		# shellcheck disable=SC2046
		inputs=$(find $(corpus_dirs "$t") "$build/corpus/$t" $(afl_queue "$t") \
			-type f | wc -l)
		"$cov_tool" report -show-functions "$bin" \
			-instr-profile="$prof.profdata" "$src" \
			>"$build/logs/cov-report-$t.txt" 2>&1 ||
			die "llvm-cov report for $t failed (see $build/logs/cov-report-$t.txt)"
		# Rows: name regions miss cover lines miss cover branches miss
		# cover; summed over the functions the harness drives.
		awk -v t="$t" -v src="$src" -v n="$inputs" -v want="$(target_functions "$t")" '
			NF == 10 && $2 ~ /^[0-9]+$/ && $1 != "TOTAL" && $1 ~ want {
				fn++; hit += ($5 > $6); l += $5; lm += $6; b += $8; bm += $9
			}
			function pct(all, miss) {
				return all ? sprintf("%.1f%%", 100 * (all - miss) / all) : "-"
			}
			END {
				printf "%-9s %-16s %9s %10s %9s %6s\n", t, src,
				       pct(l, lm), pct(b, bm), hit "/" fn, n
			}' "$build/logs/cov-report-$t.txt" >>"$coverage"
	done
	echo "fuzz-campaign: coverage of the functions each harness drives, over its whole corpus:"
	cat "$coverage"
else
	echo "fuzz-campaign: coverage report skipped: llvm-cov/llvm-profdata not found (install llvm-14)"
fi

# ---- corpus cache (CI): keep what this run found ----------------------
if [ -n "$cache" ] && [ "$failed" = 0 ]; then
	for t in $targets; do
		before=$(find "$cache/$t" -type f | wc -l)
		# shellcheck disable=SC2046
		"$build/fuzz-$t" -merge=1 -max_len="$(max_len "$t")" \
			"$cache/$t" "$build/corpus/$t" $(afl_queue "$t") \
			>"$build/logs/cache-$t.log" 2>&1 ||
			die "merging $t into the cache failed (see $build/logs/cache-$t.log)"
		after=$(find "$cache/$t" -type f | wc -l)
		echo "fuzz-campaign: cache $t: $before -> $after files"
	done
fi

# ---- merge (only on request, only when clean) -----------------------
# The hand-made seed-* files and the regress-* findings stay as they
# are; everything else in fuzz/corpus/<name> is replaced by a minimal
# set (libFuzzer -merge=1 into a fresh directory holding only those)
# that keeps all the coverage of the old files, this run's finds, the
# cache and the AFL++ queue.
if [ "$merge" = 1 ]; then
	if [ "$failed" != 0 ]; then
		echo "fuzz-campaign: not merging: the campaign found problems"
	else
		for t in $targets; do
			dir="fuzz/corpus/$t" fresh="$build/minimised/$t"
			before=$(find "$dir" -type f | wc -l)
			rm -rf "$fresh"
			mkdir -p "$fresh"
			find "$dir" -type f \( -name 'seed-*' -o -name 'regress-*' \) \
				-exec cp {} "$fresh/" \;
			# shellcheck disable=SC2046
			"$build/fuzz-$t" -merge=1 -max_len="$(max_len "$t")" \
				"$fresh" $(corpus_dirs "$t") "$build/corpus/$t" \
				$(afl_queue "$t") >"$build/logs/merge-$t.log" 2>&1 ||
				die "merge for $t failed (see $build/logs/merge-$t.log)"
			find "$dir" -type f ! -name 'seed-*' ! -name 'regress-*' -delete
			find "$fresh" -type f ! -name 'seed-*' ! -name 'regress-*' \
				-exec cp {} "$dir/" \;
			after=$(find "$dir" -type f | wc -l)
			echo "fuzz-campaign: merged and minimised $t: $before -> $after files"
		done
		if [ "$commit" = 1 ]; then
			git add -A fuzz/corpus
			if git diff --cached --quiet -- fuzz/corpus; then
				echo "fuzz-campaign: fuzz/corpus unchanged: nothing to commit"
			else
				git commit -q -m "fuzz: corpus merged and minimised after a ${fuzz_seconds}s campaign ($targets)" \
					-- fuzz/corpus
				echo "fuzz-campaign: committed $(git rev-parse --short HEAD)"
			fi
		else
			echo "fuzz-campaign: review and commit fuzz/corpus (or run with --commit)"
		fi
	fi
fi

if [ "$failed" != 0 ]; then
	echo "fuzz-campaign: FAILED"
	exit 1
fi
echo "fuzz-campaign: clean"
