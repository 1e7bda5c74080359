# Helpers of the CLI test scripts (sourced): counters, running dfota,
# expectations. Needs $DFOTA and $T (the temporary directory, with io/).
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() {
    fail=$((fail + 1))
    echo "FAIL: $*"
}
finish() {
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ]
    exit $?
}

# run ARGS...: run dfota; sets $rc, stdout in io/out, stderr in io/err.
run() {
    "$DFOTA" "$@" >"$T/io/out" 2>"$T/io/err"
    rc=$?
}
show_err() { sed 's/^/    | /' "$T/io/err" | head -5; }

# expect NAME CODE PATTERN ARGS...: dfota ARGS exits CODE and its stderr
# contains PATTERN (fixed string, any case; empty: not checked).
expect() {
    _n=$1 _c=$2 _p=$3
    shift 3
    run "$@"
    if [ "$rc" -ne "$_c" ]; then
        bad "$_n: exit $rc, expected $_c (dfota $*)"
        show_err
        return 1
    fi
    if [ -n "$_p" ] && ! grep -qiF -- "$_p" "$T/io/err"; then
        bad "$_n: stderr lacks '$_p' (dfota $*)"
        show_err
        return 1
    fi
    ok
    return 0
}

# no_file NAME PATH: PATH does not exist, nor any temporary beside it.
no_file() {
    _left=$(ls -d "$2" "$2".tmp* 2>/dev/null)
    if [ -n "$_left" ]; then
        bad "$1: left behind: $_left"
        rm -rf "$2" "$2".tmp*
        return 1
    fi
    ok
    return 0
}

# one_line NAME: stderr of the last run is exactly one line.
one_line() {
    _l=$(wc -l <"$T/io/err")
    if [ "$_l" -ne 1 ]; then
        bad "$1: stderr has $_l lines, expected 1"
        show_err
        return 1
    fi
    ok
}

size_of() { wc -c <"$1" | tr -d ' '; }
