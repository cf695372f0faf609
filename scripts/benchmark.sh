#!/usr/bin/env bash
# Benchmarks that print figures (not timed tests). Results and how to read them: docs/performance.md.
#   bash scripts/benchmark.sh [GB]      (GB: size of the throughput stream, default 12)
#   BENCH_SECTIONS="1 2" bash scripts/benchmark.sh    (only some sections; default "1 2 3")
# 1. streaming throughput: the agent's send|receive versus a bare shell pipe, same synthetic stream
#    (src/test/resources/fake/fake-zfs emits N zero bytes as `zfs send` and swallows them as `zfs receive`);
# 2. the agent's peak RSS for a 16 MB and a 6 GB stream;
# 3. an up-to-date cycle over 500 datasets on one ssh host (zfs-fuse): ssh processes and wall time.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
GB=${1:-12}
REPS=${BENCH_REPS:-5}
bash scripts/install-prereqs.sh
command -v /usr/bin/time >/dev/null 2>&1 || { apt-get install -y -qq time >/dev/null; }
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
  echo "$2" > "$1/bytes"
}
secs() { python3 -c "import sys; print(f'{float(sys.argv[1]):.2f}')" "$1"; }

start_sshd() {  # sshd on 127.0.0.1, a free port, throwaway keys; once
  [ -n "$SSHD" ] && return 0
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  ssh-keygen -q -t ed25519 -N '' -f "$W/hk"; ssh-keygen -q -t ed25519 -N '' -f "$W/id"; cp "$W/id.pub" "$W/ak"; mkdir -p /run/sshd
  printf 'Port %s\nListenAddress 127.0.0.1\nHostKey %s\nAuthorizedKeysFile %s\nPermitRootLogin prohibit-password\nUsePAM no\nStrictModes no\nPidFile %s\n' \
    "$PORT" "$W/hk" "$W/ak" "$W/sshd.pid" > "$W/sshd_config"
  /usr/sbin/sshd -D -f "$W/sshd_config" & SSHD=$!
  sleep 1
  SSH=(ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -i "$W/id")
}

SECTIONS=${BENCH_SECTIONS:-1 2 3}
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
ratio() { python3 -c "import sys; print(f'{float(sys.argv[1])/float(sys.argv[2]):.2f}')" "$1" "$2"; }
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
commands: {zfs: [bash, $FAKE, $W/ts], ssh: [$(printf '%s, ' "${SSH[@]}" | sed 's/, $//')], pv: $1}
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

want 3 || exit 0
echo "== 3. up-to-date cycle, 500 datasets on one ssh host (zfs-fuse)"
N=${BENCH_DATASETS:-500}
SRC=bsrc$RANDOM BAK=bbak$RANDOM
for p in "$SRC" "$BAK"; do truncate -s 512M "$W/$p.img"; zpool create -m none "$p" "$W/$p.img"; POOLS+=("$p"); done
zfs create -o mountpoint=none "$SRC/bench"
echo "   creating $N datasets (setup, not measured)..."
for i in $(seq -w 1 "$N"); do zfs create "$SRC/bench/d$i"; done
zfs snapshot -r "$SRC/bench@s1"
zfs create -p -o canmount=off "$BAK/t/h/$SRC"
zfs send -R "$SRC/bench@s1" | zfs receive -F "$BAK/t/h/$SRC/bench"
start_sshd
cat > "$W/n.yaml" <<CONF
commands:
  ssh: [bash, $ROOT/scripts/bench/count-ssh, $W/ssh.log, ssh, -o, BatchMode=yes, -o, StrictHostKeyChecking=no, -o, UserKnownHostsFile=/dev/null, -o, LogLevel=ERROR, -i, $W/id]
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
printf '%-34s %8s s\n' "cycle wall time (from the report)" "$(sed -n 's/.* in \([0-9.]*\) s$/\1/p' "$W/n.out")"
printf '%-34s %8s s\n' "whole command incl. JVM start" "$(secs "$(python3 -c "print($end-$start)")")"
