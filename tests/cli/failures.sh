#!/usr/bin/env bash
# No partial output after a failure: corrupt or truncated input, and runs killed by
# SIGTERM / SIGINT / SIGHUP in the middle of a big input.
source "$(dirname "$0")/lib.bash"

cp "$STORIES" a.bin
"$TENZIP" compress --dtype fp32 -q a.bin
size=$(stat -c %s a.bin.tnz)
mkdir bad

# ---- corrupt inputs: exit 1, one line naming the file, no output, no temp file
python3 - a.bin.tnz bad <<'EOF'
import os, sys
src, out = sys.argv[1], sys.argv[2]
b = open(src, "rb").read()
n = len(b)
def w(name, data): open(os.path.join(out, name + ".tnz"), "wb").write(data)
w("empty", b"")
w("magic_only", b[:4])
w("trunc_half", b[: n // 2])
w("trunc_minus1", b[: n - 1])
w("trunc_header", b[:16])
w("garbage", bytes((i * 131 + 7) & 0xFF for i in range(4096)))
w("zeros", bytes(n))
w("trailing", b + b"extra bytes after the end")
w("doubled", b + b)
for frac, name in ((0.02, "flip_early"), (0.5, "flip_mid"), (0.98, "flip_late")):
    m = bytearray(b); i = int(n * frac); m[i] ^= 0x5A; w(name, bytes(m))
m = bytearray(b); m[-1] ^= 0xFF; w("flip_last", bytes(m))
m = bytearray(b); m[0] ^= 0x01; w("flip_first", bytes(m))
EOF

for f in bad/*.tnz; do
  base=${f%.tnz}
  # file -> default output name
  run_expect 1 "$TENZIP" decompress "$f"
  check_error_line
  grep -q "$(basename "$f")" "$WORK/err" || fail "$f: error does not name the file: $(cat "$WORK/err")"
  [[ ! -e $base ]] || fail "$f: partial output $base left behind"
  # stdin -> named output
  run_expect 1 "$TENZIP" decompress -o out.bin - <"$f"
  check_error_line
  [[ ! -e out.bin ]] || fail "$f: partial output out.bin left behind (stdin)"
  # threaded
  run_expect 1 "$TENZIP" decompress -T 2 -o out.bin "$f"
  [[ ! -e out.bin ]] || fail "$f: partial output out.bin left behind (-T 2)"
  # inspect fails the same way
  run_expect 1 "$TENZIP" inspect "$f"
  check_error_line
done
only_files bad $(cd bad && ls)
only_files . a.bin a.bin.tnz bad
# a failed -f run leaves the existing file as it was
echo "keep me" >kept
run_expect 1 "$TENZIP" decompress -f -o kept bad/flip_mid.tnz
[[ $(cat kept) == "keep me" ]] || fail "failed -f run replaced the existing file"
ok
rm -f kept

# ---- killed mid-run: the input arrives through a FIFO that stays open, so the process is
# certainly in the middle of its work when the signal arrives. 128+signal exit, no output.
ALL=$TENZIP_CORPUS_DIR
big=big.bin
for i in 1 2 3; do cat "$ALL"/llm/*.bin "$ALL"/cnn/*.bin "$ALL"/hybrid/*.onnx; done >"$big"  # ~75 MB

# Progress: shown on a terminal for a big input (> 64 MiB), never when stderr is not one.
if command -v script >/dev/null; then
  script -qec "$TENZIP compress --dtype fp32 -T 2 -o p.tnz $big" /dev/null >tty.out 2>&1 </dev/null \
    || { cat tty.out; fail "compress under a terminal failed"; }
  grep -q 'MB/s' tty.out || { cat tty.out; fail "no progress line on a terminal"; }
  grep -q "p.tnz)" tty.out || fail "no summary on a terminal"
  rm -f p.tnz
  script -qec "$TENZIP compress -q --dtype fp32 -o p.tnz $big" /dev/null >tty.out 2>&1 </dev/null
  [[ ! -s tty.out ]] || { cat tty.out; fail "-q printed on a terminal"; }
  ok
  rm -f p.tnz tty.out
fi
run_expect 0 "$TENZIP" compress --dtype fp32 -o p.tnz "$big"
[[ $(wc -l <"$WORK/err") -eq 1 ]] && ! grep -q 'MB/s' "$WORK/err" || fail "progress shown on a non-terminal: $(cat "$WORK/err")"
ok
rm -f p.tnz

wait_for_temp() {  # wait until a temp file for output $1 exists (up to 60 s)
  local i
  for ((i = 0; i < 600; i++)); do
    compgen -G ".$1.tnztmp.*" >/dev/null && return 0
    sleep 0.1
  done
  fail "no temp file for $1 appeared"
}

# A signal ignored when this script started (nohup, a background job of a script) is
# inherited ignored by tenzip, which keeps it so, as commands do: that case cannot be tested.
sig_ignored() {
  local n mask
  n=$(kill -l "$1")
  mask=$(awk '/^SigIgn:/ {print $2}' /proc/$$/status 2>/dev/null || echo 0)
  (( (16#${mask:-0} >> (n - 1)) & 1 ))
}

# Waits for a child, at most 60 s (a signal that did not work must fail, not hang).
wait_child() {  # wait_child PID -> sets $rc
  local pid=$1 i state
  for ((i = 0; i < 600; i++)); do
    state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || echo gone)
    [[ $state == Z || $state == gone ]] && break
    sleep 0.1
  done
  if [[ $state != Z && $state != gone ]]; then
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    fail "process $pid still running 60 s after the signal"
  fi
  rc=0
  wait "$pid" || rc=$?
}

killed_run() {  # killed_run SIGNAL OUTPUT INPUTFILE tenzip-args...
  local sig=$1 outname=$2 input=$3; shift 3
  if sig_ignored "$sig"; then
    note "SIG$sig is ignored in this environment; skipped"
    return 0
  fi
  rm -f fifo && mkfifo fifo
  "$TENZIP" "$@" <fifo &
  local pid=$!
  exec 3>fifo
  cat "$input" >&3           # returns once tenzip has read nearly all of it
  wait_for_temp "$outname"
  sleep 0.3
  kill -s "$sig" "$pid"
  wait_child "$pid"
  exec 3>&-
  local want=$((128 + $(kill -l "$sig")))
  [[ $rc -eq $want ]] || fail "$sig: exit $rc, expected $want"
  [[ ! -e $outname ]] || fail "$sig: output $outname left behind"
  ok
  rm -f fifo
}

killed_run TERM c.tnz "$big" compress --dtype fp32 -q -o c.tnz -
killed_run HUP c.tnz "$big" compress --dtype fp32 -q -T 2 -o c.tnz -
# bash starts background jobs with SIGINT ignored; run this one in its own job-control session
set -m
killed_run INT c.tnz "$big" compress --dtype fp32 -q -o c.tnz -
set +m
only_files . a.bin a.bin.tnz bad "$big"

# decompress: a real container of the big input, fed whole (the FIFO stays open: the
# decoder waits for more) and killed
"$TENZIP" compress --dtype fp32 -q -o big.tnz "$big"
killed_run TERM d.bin big.tnz decompress -q -o d.bin -
only_files . a.bin a.bin.tnz bad "$big" big.tnz

# killed while working on a regular file (no FIFO): whatever the timing, either no output
# or the complete, correct one — never a partial file
"$TENZIP" compress --dtype fp32 -q -T 1 -l 9 -o e.tnz "$big" &
pid=$!
for ((i = 0; i < 100; i++)); do compgen -G ".e.tnz.tnztmp.*" >/dev/null && break; sleep 0.02; done
sleep 0.2
kill -TERM "$pid" 2>/dev/null || true
wait_child "$pid"
if [[ -e e.tnz ]]; then
  [[ $rc -eq 0 ]] || fail "killed run (exit $rc) left e.tnz"
  "$TENZIP" decompress -c e.tnz | cmp -s - "$big" || fail "e.tnz exists but is not complete"
  note "regular-file kill came after completion"
else
  [[ $rc -eq 143 ]] || fail "killed run: exit $rc, expected 143"
fi
ok
rm -f e.tnz
only_files . a.bin a.bin.tnz bad "$big" big.tnz

finish
