#!/usr/bin/env bash
# Nothing the user had is lost: no overwrite without -f, never over the input, exit codes
# 1 (failure) vs 2 (usage), one-line errors naming the file.
source "$(dirname "$0")/lib.bash"

cp "$STORIES" a.bin
chmod 644 a.bin
sum=$(sha a.bin)

# ---- refusing to overwrite without -f; the existing file is untouched
echo "precious" >a.bin.tnz
run_expect 1 "$TENZIP" compress --dtype fp32 a.bin
check_error_line
grep -q 'a.bin.tnz' "$WORK/err" || fail "error does not name the output"
grep -q -- '-f' "$WORK/err" || fail "error does not mention -f"
[[ $(cat a.bin.tnz) == precious ]] || fail "existing output was modified"
only_files . a.bin a.bin.tnz

# -f overwrites
run_expect 0 "$TENZIP" compress --dtype fp32 -f a.bin
[[ $(cat a.bin.tnz | head -c 8) != precious ]] || fail "-f did not overwrite"
"$TENZIP" decompress -c a.bin.tnz | cmp -s - a.bin || fail "-f output does not decode"
ok
# -k is accepted (the input is always kept)
run_expect 0 "$TENZIP" compress --dtype fp32 -k -f a.bin
[[ -f a.bin && $(sha a.bin) == "$sum" ]] || fail "input not kept"
ok

# decompress refuses to overwrite the original without -f, and leaves it alone
echo "mine" >b.bin
cp a.bin.tnz b.bin.tnz
run_expect 1 "$TENZIP" decompress b.bin.tnz
check_error_line
[[ $(cat b.bin) == mine ]] || fail "decompress overwrote without -f"
ok
run_expect 0 "$TENZIP" decompress -f b.bin.tnz
same_file b.bin a.bin
# -o to an existing file: same rules
echo "mine" >c.out
run_expect 1 "$TENZIP" decompress -o c.out a.bin.tnz
[[ $(cat c.out) == mine ]] || fail "-o overwrote without -f"
ok
run_expect 0 "$TENZIP" decompress -f -o c.out a.bin.tnz
same_file c.out a.bin
rm -f b.bin b.bin.tnz c.out

# ---- never write over the input itself, even with -f (also through a hard link)
run_expect 1 "$TENZIP" compress -f -o a.bin a.bin
check_error_line
[[ $(sha a.bin) == "$sum" ]] || fail "input overwritten by itself"
ok
ln a.bin a-link.bin
run_expect 1 "$TENZIP" compress -f -o a-link.bin a.bin
[[ $(sha a.bin) == "$sum" ]] || fail "input overwritten through a hard link"
ok
rm -f a-link.bin
cp a.bin.tnz self.tnz
run_expect 1 "$TENZIP" decompress -f -o self.tnz self.tnz
cmp -s self.tnz a.bin.tnz || fail "decompress overwrote its input"
ok
# stdout redirected onto the input (would read its own output forever)
cp a.bin loop.bin
run_expect 1 bash -c '"$0" compress -c -f loop.bin >>loop.bin' "$TENZIP"
check_error_line
same_file loop.bin a.bin
rm -f loop.bin self.tnz

# ---- output permissions follow the input's
chmod 600 a.bin
run_expect 0 "$TENZIP" compress -f -q a.bin
[[ $(stat -c %a a.bin.tnz) == 600 ]] || fail "output mode $(stat -c %a a.bin.tnz), expected 600"
ok
chmod 644 a.bin

# ---- usage errors: exit 2, one line
run_expect 2 "$TENZIP"
check_error_line
run_expect 2 "$TENZIP" frobnicate a.bin
check_error_line
run_expect 2 "$TENZIP" compress
check_error_line
run_expect 2 "$TENZIP" compress --dtype int7 a.bin
check_error_line
grep -q 'int7' "$WORK/err" || fail "bad dtype not named"
run_expect 2 "$TENZIP" compress -l 0 a.bin
check_error_line
run_expect 2 "$TENZIP" compress -l 10 a.bin
check_error_line
run_expect 2 "$TENZIP" compress -T -1 a.bin
check_error_line
run_expect 2 "$TENZIP" compress -T many a.bin
check_error_line
run_expect 2 "$TENZIP" compress --no-such-option a.bin
check_error_line
run_expect 2 "$TENZIP" compress -o x.tnz a.bin b.bin  # several inputs: tests/cli/multi_input.sh
check_error_line
run_expect 2 "$TENZIP" bench
check_error_line
# decompress of a name without .tnz and no -o: usage error naming the file, nothing written
cp a.bin.tnz noext
run_expect 2 "$TENZIP" decompress noext
check_error_line
grep -q 'noext' "$WORK/err" || fail "suffix error does not name the file"
run_expect 0 "$TENZIP" decompress -o noext.out noext
same_file noext.out a.bin
rm -f noext noext.out
# nothing was created by any of the usage errors
only_files . a.bin a.bin.tnz

# ---- failures: exit 1, one line naming the file
run_expect 1 "$TENZIP" compress does-not-exist.bin
check_error_line
grep -q 'does-not-exist.bin' "$WORK/err" || fail "missing input not named"
run_expect 1 "$TENZIP" decompress does-not-exist.tnz
check_error_line
mkdir adir
"$TENZIP" compress -q adir            # a folder compresses to a folder
[[ -d adir.tnz ]] || fail "compress adir made no adir.tnz folder"
run_expect 1 "$TENZIP" compress adir  # and is not overwritten without -f
check_error_line
grep -q 'adir.tnz' "$WORK/err" || fail "existing output folder not named"
"$TENZIP" compress -q -f adir
rm -r adir.tnz
run_expect 1 "$TENZIP" compress -o nodir/x.tnz a.bin
check_error_line
rmdir adir
# read-only directory: cannot create the temp file -> exit 1, clear message (skip as root)
if [[ $(id -u) -ne 0 ]]; then
  mkdir ro && chmod 555 ro
  run_expect 1 "$TENZIP" compress -o ro/x.tnz a.bin
  check_error_line
  chmod 755 ro && rmdir ro
fi
# a full disk: /dev/full as output (write fails with ENOSPC); as a named -o it is a device,
# so exercise it through stdout, which is written in place
if [[ -w /dev/full ]]; then
  run_expect 1 bash -c '"$0" compress -q -c -f a.bin >/dev/full' "$TENZIP"
  check_error_line
  grep -q 'stdout' "$WORK/err" || fail "write error does not name stdout"
fi

# ---- devices are written in place, without -f (zstd's `-o /dev/null` habit)
run_expect 0 "$TENZIP" decompress -o /dev/null a.bin.tnz
run_expect 0 "$TENZIP" compress -q --dtype fp32 -o /dev/null a.bin
[[ -c /dev/null ]] || fail "/dev/null was replaced"
ok
if [[ -w /dev/full ]]; then
  run_expect 1 "$TENZIP" decompress -o /dev/full a.bin.tnz
  check_error_line
fi

# ---- terminals: compressed data is not written to a terminal, nor read from one
if command -v script >/dev/null; then
  # script gives the command a pseudo-terminal as stdin/stdout/stderr
  rc=0
  script -qec "$TENZIP compress a.bin -c" /dev/null >tty.out 2>&1 </dev/null || rc=$?
  [[ $rc -eq 1 ]] || fail "compress to a terminal: exit $rc, expected 1"
  grep -q 'tenzip: error: .*terminal' tty.out || { cat tty.out; fail "no terminal refusal message"; }
  ok
  rm -f tty.out
fi
only_files . a.bin a.bin.tnz

# ---- help and version: exit 0, on stdout
run_expect 0 "$TENZIP" --help
grep -q 'compress' "$WORK/out" || fail "--help lacks commands"
grep -q 'Examples' "$WORK/out" || fail "--help lacks examples"
run_expect 0 "$TENZIP" compress --help
grep -q -- '--dtype' "$WORK/out" || fail "compress --help lacks --dtype"
grep -qi 'default: all' "$WORK/out" || fail "compress --help does not state the default thread count"
grep -q -- '-k' "$WORK/out" || fail "compress --help lacks -k"
for c in decompress inspect bench; do run_expect 0 "$TENZIP" "$c" --help; done
run_expect 0 "$TENZIP" --version
grep -Eq '^tenzip [0-9]+\.[0-9]+\.[0-9]+ \(format version [0-9]+\)$' "$WORK/out" || fail "--version: $(cat "$WORK/out")"

finish
