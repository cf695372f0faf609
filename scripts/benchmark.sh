#!/usr/bin/env bash
# Benchmarks that print figures (not timed tests). Results and how to read them: docs/performance.md.
#   bash scripts/benchmark.sh [GB]      (GB: size of the throughput stream, default 12)
#   BENCH_SECTIONS="1 2" bash scripts/benchmark.sh    (only some sections; default "1 2 3 4 5")
# 1. streaming throughput: the agent's send|receive versus a bare shell pipe, same synthetic stream
#    (src/test/resources/fake/fake-zfs emits N zero bytes as `zfs send` and swallows them as `zfs receive`);
# 2. the agent's peak RSS for a 16 MB and a 6 GB stream;
# 3. an up-to-date cycle over 500 datasets on one ssh host (zfs-fuse): ssh processes and wall time;
# 4. the nightly cycle: N datasets (BENCH_NIGHTLY, default 200) on one ssh host, each with one new
#    snapshot, the agent against the replaced scripts' per-dataset `ssh host zfs send -i | zfs
#    receive` loop, same run; ssh connections from sshd's log, zfs calls per dataset and where;
# 5. three hosts side by side: one dataset per host streamed through `pv -L` (BENCH_RATE, 1m), three
#    hosts (three sshd ports) against one host alone, and against parallel_sources: 1.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
GB=${1:-12}
REPS=${BENCH_REPS:-5}
bash scripts/install-prereqs.sh
[ -f target/zfs-backup-agent.jar ] || mvn -B -q -ntp -DskipTests package
JAR=$ROOT/target/zfs-backup-agent.jar
W=$(mktemp -d /tmp/zba-bench.XXXXXX)
POOLS=()
SSHD=
cleanup() {
  set +e
  [ -n "$SSHD" ] && kill "$SSHD"
  for p in "${POOLS[@]}"; do zpool destroy -f "$p"; done
  rm -rf "$W"
}
trap cleanup EXIT
FAKE=$ROOT/src/test/resources/fake/fake-zfs

fake_config() {  # dir pv-list
  cat <<CONF
commands: {zfs: [bash, $FAKE, $1], ssh: [ssh], pv: $2}
pull:
  target: bak
  receive_options: []
  sources: [{name: h, datasets: [src/data]}]
replication: {holds: false}
state_file: $W/state.json
CONF
}
scenario() {  # dir bytes
  mkdir -p "$1/list"
  printf 'src/data\tguid\t1\nsrc/data\tcreatetxg\t1\nsrc/data@a\tguid\t2\nsrc/data@a\tcreatetxg\t2\n' > "$1/list/src_data"
  # The pull target root: the agent never creates it (a missing one is target_missing).
  printf 'bak\tguid\t9\nbak\tcreatetxg\t1\nbak\tcanmount\toff\n' > "$1/list/bak"
  echo "$2" > "$1/bytes"
}
secs() { python3 -c "import sys; print(f'{float(sys.argv[1]):.2f}')" "$1"; }
ratio() { python3 -c "import sys; print(f'{float(sys.argv[1])/float(sys.argv[2]):.2f}')" "$1" "$2"; }
report_secs() { sed -n 's/.* in \([0-9.]*\) s$/\1/p' "$1"; }  # run's output -> the cycle's seconds
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
mkpool() {  # size name: a file-backed pool, destroyed by cleanup
  truncate -s "$1" "$W/$2.img"; zpool create -m none "$2" "$W/$2.img"; POOLS+=("$2")
}

start_sshd() {  # sshd on 127.0.0.1, a free port, throwaway keys; once. SSH: its argv, SSHLIST: as YAML
  [ -n "$SSHD" ] && return 0
  PORT=$(free_port)
  ssh-keygen -q -t ed25519 -N '' -f "$W/hk"; ssh-keygen -q -t ed25519 -N '' -f "$W/id"; cp "$W/id.pub" "$W/ak"; mkdir -p /run/sshd
  PORT2=$(free_port)
  PORT3=$(free_port)
  # Three ports: three "hosts" for section 5 (each user@host:port gets its own master). LogLevel
  # INFO logs one "Accepted publickey ... port <client port>" line per connection, on any port.
  printf 'Port %s\nPort %s\nPort %s\nListenAddress 127.0.0.1\nHostKey %s\nAuthorizedKeysFile %s\nPermitRootLogin prohibit-password\nUsePAM no\nStrictModes no\nPidFile %s\nLogLevel INFO\nMaxStartups 100:30:200\n' \
    "$PORT" "$PORT2" "$PORT3" "$W/hk" "$W/ak" "$W/sshd.pid" > "$W/sshd_config"
  /usr/sbin/sshd -D -E "$W/sshd.log" -f "$W/sshd_config" & SSHD=$!
  sleep 1
  SSH=(ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -i "$W/id")
  SSHLIST=$(printf '%s, ' "${SSH[@]}" | sed 's/, $//')
}

SECTIONS=${BENCH_SECTIONS:-1 2 3 4 5}
want() { [[ " $SECTIONS " == *" $1 "* ]]; }

if want 1; then
echo "== 1a. throughput in memory, ${GB} GB stream of zeros, best of $REPS"
BYTES=$(( GB * 1000 * 1000 * 1000 ))
scenario "$W/tp" "$BYTES"
best() { sort -g | head -1; }
timed() { /usr/bin/time -f %e "$@" 2>&1 >/dev/null | tail -1; }
fake_config "$W/tp" "[pv]" > "$W/pv.yaml"
fake_config "$W/tp" "[]" > "$W/relay.yaml"
agent_secs() {  # config bytes -> seconds of the stream step (bytes / the step's measured rate)
  local rate
  rate=$(java -jar "$JAR" run --config "$1" 2>>"$W/agent.log" | sed -n 's/.*done: .* (\([0-9]*\) B\/s)$/\1/p' | tail -1)
  python3 -c "import sys; print(int(sys.argv[1])/int(sys.argv[2]))" "$2" "$rate"
}
row() {  # label seconds bytes baseline-seconds
  printf '%-40s %8s s  %6s GB/s  %5sx\n' "$1" "$(secs "$2")" \
    "$(python3 -c "import sys; print(f'{int(sys.argv[1])/float(sys.argv[2])/1e9:.2f}')" "$3" "$2")" "$(ratio "$4" "$2")"
}
# Interleaved (bare, cat hop, agent+pv, agent direct) so that drift in the VM's speed hits all alike.
for i in $(seq 1 "$REPS"); do
  echo "bare $(timed bash -c "bash $FAKE $W/tp send src/data@a | bash $FAKE $W/tp receive -F bak/h/src/data")"
  echo "cat $(timed bash -c "bash $FAKE $W/tp send src/data@a | cat | bash $FAKE $W/tp receive -F bak/h/src/data")"
  echo "pv $(agent_secs "$W/pv.yaml" "$BYTES")"
  echo "relay $(agent_secs "$W/relay.yaml" "$BYTES")"
done > "$W/tp.times"
pick() { awk -v k="$1" '$1 == k {print $2}' "$W/tp.times" | best; }
bare=$(pick bare)
row "bare shell pipe (send | receive)" "$bare" "$BYTES" "$bare"
row "bare pipe + a cat hop (send|cat|receive)" "$(pick cat)" "$BYTES" "$bare"
row "agent, send | pv | receive (default)" "$(pick pv)" "$BYTES" "$bare"
row "agent, send | receive (pv: [])" "$(pick relay)" "$BYTES" "$bare"

SSH_GB=${BENCH_SSH_GB:-4}
echo "== 1b. throughput of a pull over ssh (sshd on 127.0.0.1), ${SSH_GB} GB stream of zeros, best of $REPS"
start_sshd
SBYTES=$(( SSH_GB * 1000 * 1000 * 1000 ))
scenario "$W/ts" "$SBYTES"
ssh_config() {  # pv-list
  cat <<CONF
commands: {zfs: [bash, $FAKE, $W/ts], ssh: [$SSHLIST], pv: $1}
pull:
  target: bak
  receive_options: []
  sources: [{name: h, host: 127.0.0.1, user: root, port: $PORT, datasets: [src/data]}]
replication: {holds: false}
state_file: $W/state.json
CONF
}
ssh_config "[pv]" > "$W/spv.yaml"
ssh_config "[]" > "$W/srelay.yaml"
for i in $(seq 1 "$REPS"); do
  echo "bare $(timed bash -c "$(printf '%q ' "${SSH[@]}" -p "$PORT" root@127.0.0.1 bash "$FAKE" "$W/ts" send src/data@a) | bash $FAKE $W/ts receive -F bak/h/src/data")"
  echo "pv $(agent_secs "$W/spv.yaml" "$SBYTES")"
  echo "relay $(agent_secs "$W/srelay.yaml" "$SBYTES")"
done > "$W/tp.times"
bare=$(pick bare)
row "bare: ssh host zfs send | zfs receive" "$bare" "$SBYTES" "$bare"
row "agent, default (pv)" "$(pick pv)" "$SBYTES" "$bare"
row "agent, pv: []" "$(pick relay)" "$SBYTES" "$bare"

fi

if want 2; then
echo "== 2. peak RSS of the agent's JVM (java -jar ... run), default heap settings"
for size in 16000000 6000000000; do
  scenario "$W/rss$size" "$size"
  fake_config "$W/rss$size" "[pv]" > "$W/rss$size.yaml"
  kb=$( { /usr/bin/time -f %M java -jar "$JAR" run --quiet --config "$W/rss$size.yaml" >/dev/null; } 2>&1 | tail -1)
  printf '%-34s %8s MB\n' "stream of $(( size / 1000000 )) MB" "$(( kb / 1024 ))"
done

fi

if want 3; then
echo "== 3. up-to-date cycle, 500 datasets on one ssh host (zfs-fuse)"
N=${BENCH_DATASETS:-500}
SRC=bsrc$RANDOM BAK=bbak$RANDOM
mkpool 512M "$SRC"; mkpool 512M "$BAK"
zfs create -o mountpoint=none "$SRC/bench"
echo "   creating $N datasets (setup, not measured)..."
for i in $(seq -w 1 "$N"); do zfs create "$SRC/bench/d$i"; done
zfs snapshot -r "$SRC/bench@s1"
zfs create -p -o canmount=off "$BAK/t/h/$SRC"
zfs send -R "$SRC/bench@s1" | zfs receive -F "$BAK/t/h/$SRC/bench"
start_sshd
cat > "$W/n.yaml" <<CONF
commands:
  ssh: [bash, $ROOT/scripts/bench/count-ssh, $W/ssh.log, $SSHLIST]
pull:
  target: $BAK/t
  receive_options: []
  sources: [{name: h, host: 127.0.0.1, user: root, port: $PORT, datasets: [$SRC/bench]}]
state_file: $W/state.json
CONF
java -jar "$JAR" run --quiet --config "$W/n.yaml" || true   # warm-up: sets canmount=off once
: > "$W/ssh.log"
start=$(date +%s.%N)
java -jar "$JAR" run --config "$W/n.yaml" > "$W/n.out"
end=$(date +%s.%N)
tail -1 "$W/n.out"
printf '%-34s %8s\n' "datasets up to date" "$(grep -c ': up to date' "$W/n.out")"
printf '%-34s %8s\n' "ssh processes started" "$(wc -l < "$W/ssh.log")"
printf '%-34s %8s s\n' "cycle wall time (from the report)" "$(report_secs "$W/n.out")"
printf '%-34s %8s s\n' "whole command incl. JVM start" "$(secs "$(python3 -c "print($end-$start)")")"
fi

accepted() { grep -c 'Accepted publickey' "$W/sshd.log" 2>/dev/null || true; }

if want 4; then
N=${BENCH_NIGHTLY:-200}
echo "== 4. nightly cycle: $N datasets on one ssh host (zfs-fuse), each with one new snapshot"
start_sshd
NS=nsrc$RANDOM NB=nbak$RANDOM
mkpool 1G "$NS"; mkpool 1G "$NB"
zfs create -o mountpoint=none "$NS/night"
BEFORE=${BENCH_BEFORE_JAR:-}
echo "   setup (not measured): $N datasets, snapshot @s0, copies on the backup pool..."
for i in $(seq -w 1 "$N"); do zfs create "$NS/night/d$i"; done
zfs snapshot -r "$NS/night@s0"
for t in agent ${BEFORE:+before}; do
  zfs create -p -o canmount=off "$NB/$t/h/$NS"
  zfs send -R "$NS/night@s0" | zfs receive -F "$NB/$t/h/$NS/night"
done
zfs create -p -o canmount=off "$NB/loop"
zfs send -R "$NS/night@s0" | zfs receive -F "$NB/loop/night"
night_config() {  # target counting(yes|no)
  local ssh="[$SSHLIST]" zfs="[zfs]"
  if [ "$2" = yes ]; then
    ssh="[bash, $ROOT/scripts/bench/count-ssh, $W/nssh.log, $SSHLIST]"
    zfs="[bash, $ROOT/scripts/bench/count-zfs, $W/nzfs.log, zfs]"
  fi
  cat <<CONF
commands: {ssh: $ssh, zfs: $zfs}
pull:
  target: $NB/$1
  receive_options: []
  sources: [{name: h, host: 127.0.0.1, user: root, port: $PORT, datasets: [$NS/night]}]
state_file: $W/nstate-$1.json
CONF
}
night_config agent no > "$W/night.yaml"
night_config agent yes > "$W/night-count.yaml"
# Warm-up: canmount=off on the received copies and the holds on the bases (once, as on any first
# cycle after a migration).
java -jar "$JAR" run --quiet --config "$W/night.yaml" || true
# BENCH_BEFORE_JAR: another build (e.g. the one before batching), for its zfs calls per dataset.
if [ -n "$BEFORE" ]; then
  night_config before yes > "$W/before.yaml"
  java -jar "$BEFORE" run --quiet --config "$W/before.yaml" || true
fi
zfs snapshot -r "$NS/night@s1"
DS=$(zfs list -H -o name -r "$NS/night")
COUNT=$(echo "$DS" | wc -l)
per() { python3 -c "import sys; print(f'{float(sys.argv[1])/int(sys.argv[2]):.3f}')" "$1" "$COUNT"; }
calls() {  # the zfs calls logged in nzfs.log, by side and verb, per dataset
  sort "$W/nzfs.log" | uniq -c | while read -r n side verb; do
    printf '     %-8s %-10s %6s  (%s per dataset)\n' "$side" "$verb" "$n" "$(per "$n")"
  done
}

echo "   the replaced scripts' way: one 'ssh host zfs send -i @s0 @s1 | zfs receive -F' per dataset"
c0=$(accepted)
start=$(date +%s.%N)
for d in $DS; do
  "${SSH[@]}" -p "$PORT" root@127.0.0.1 zfs send -i "$d@s0" "$d@s1" < /dev/null \
    | zfs receive -F "$NB/loop/${d#$NS/}"
done
end=$(date +%s.%N)
loop=$(python3 -c "print($end-$start)")
loopconn=$(( $(accepted) - c0 ))

c0=$(accepted)
start=$(date +%s.%N)
java -jar "$JAR" run --config "$W/night.yaml" > "$W/night.out"
end=$(date +%s.%N)
agentconn=$(( $(accepted) - c0 ))
agent=$(report_secs "$W/night.out")
whole=$(python3 -c "print($end-$start)")
tail -1 "$W/night.out"
printf '%-52s %8s\n' "datasets with a new snapshot" "$COUNT"
printf '%-52s %8s s  %s s/dataset  %4s ssh connections\n' "per-dataset ssh loop" "$(secs "$loop")" "$(per "$loop")" "$loopconn"
printf '%-52s %8s s  %s s/dataset  %4s ssh connections\n' "agent, cycle (from its report)" "$(secs "$agent")" "$(per "$agent")" "$agentconn"
printf '%-52s %8s s  %s s/dataset\n' "agent, whole command incl. JVM start" "$(secs "$whole")" "$(per "$whole")"
printf '%-52s %8s\n' "agent / loop, per dataset (cycle)" "$(ratio "$agent" "$loop")x"

echo "   where the calls go: one more snapshot, commands.ssh and commands.zfs through counting wrappers"
zfs snapshot -r "$NS/night@s2"
: > "$W/nssh.log"; : > "$W/nzfs.log"
java -jar "$JAR" run --config "$W/night-count.yaml" > "$W/count.out"
counted=$(report_secs "$W/count.out")
printf '%-52s %8s s  %s s/dataset  %4s ssh processes\n' "agent, with the wrappers" "$counted" "$(per "$counted")" "$(wc -l < "$W/nssh.log")"
calls
if [ -n "$BEFORE" ]; then
  : > "$W/nssh.log"; : > "$W/nzfs.log"
  c0=$(accepted)
  java -jar "$BEFORE" run --config "$W/before.yaml" > "$W/before.out"
  bconn=$(( $(accepted) - c0 ))
  before=$(report_secs "$W/before.out")
  printf '%-52s %8s s  %s s/dataset  %4s ssh processes, %s connections\n' "BENCH_BEFORE_JAR, with the wrappers (@s0..@s2)" "$(secs "$before")" "$(per "$before")" "$(wc -l < "$W/nssh.log")" "$bconn"
  calls
fi

echo "   the next cycle, everything up to date:"
c0=$(accepted)
java -jar "$JAR" run --config "$W/night.yaml" > "$W/upd.out"
printf '%-52s %8s s  %4s ssh connections\n' "up-to-date cycle over $COUNT datasets" \
  "$(report_secs "$W/upd.out")" "$(( $(accepted) - c0 ))"
fi

if want 5; then
RATE=${BENCH_RATE:-1m}
MB=${BENCH_HOST_MB:-6}
echo "== 5. three hosts side by side: one dataset of $MB MB per host, streams throttled to $RATE/s (pv -L)"
start_sshd
HS=hsrc$RANDOM HB=hbak$RANDOM
mkpool 512M "$HS"; mkpool 512M "$HB"
for target in one three serial; do zfs create -o mountpoint=none "$HB/$target"; done  # target roots
for h in 1 2 3; do
  mkdir -p "$W/mnt$h"
  zfs create -o mountpoint="$W/mnt$h" "$HS/h$h"
  head -c $(( MB * 1000 * 1000 )) /dev/urandom > "$W/mnt$h/data.bin"; sync
  zfs set mountpoint=none "$HS/h$h"
  zfs snapshot "$HS/h$h@s1"
done
hosts_config() {  # target parallel ports...
  local target=$1 parallel=$2; shift 2
  local sources="" i=1
  for port in "$@"; do
    sources+="{name: h$i, host: 127.0.0.1, user: root, port: $port, datasets: [$HS/h$i]}, "
    i=$((i + 1))
  done
  cat <<CONF
commands: {ssh: [$SSHLIST], pv: [pv, -L, $RATE]}
pull: {target: $HB/$target, receive_options: [], sources: [${sources%, }]}
replication: {parallel_sources: $parallel}
state_file: $W/hstate-$target.json
CONF
}
hosts_config one 4 "$PORT" > "$W/one.yaml"
hosts_config three 4 "$PORT" "$PORT2" "$PORT3" > "$W/three.yaml"
hosts_config serial 1 "$PORT" "$PORT2" "$PORT3" > "$W/serial.yaml"
cycle_secs() { java -jar "$JAR" run --config "$1" > "$W/h.out"; tail -1 "$W/h.out" >&2; report_secs "$W/h.out"; }
one=$(cycle_secs "$W/one.yaml")
c0=$(accepted)
three=$(cycle_secs "$W/three.yaml")
threeconn=$(( $(accepted) - c0 ))
serial=$(cycle_secs "$W/serial.yaml")
printf '%-52s %8s s\n' "one host alone" "$(secs "$one")"
printf '%-52s %8s s  %sx one host  (%s ssh connections)\n' "three hosts, parallel_sources 4 (default)" "$(secs "$three")" \
  "$(ratio "$three" "$one")" "$threeconn"
printf '%-52s %8s s  %sx one host\n' "three hosts, parallel_sources 1 (one by one)" "$(secs "$serial")" \
  "$(ratio "$serial" "$one")"
fi
