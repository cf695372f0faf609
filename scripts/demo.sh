#!/usr/bin/env bash
# The agent's main job, end to end, in a throwaway sandbox: three file-backed ZFS pools (a "host"
# to back up, the backup server's pool, an "offsite" pool), a private sshd and Mosquitto broker on
# free ports of 127.0.0.1, the agent driven over MQTT exactly as Home Assistant or mosquitto_pub
# would drive it: run (progress printed live), a second incremental run, then suspend with a
# harmless power command. Cleans up after itself. Run as root on Debian:  bash scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

bash scripts/install-prereqs.sh
if [ ! -f target/zfs-backup-agent.jar ]; then
  echo "== building target/zfs-backup-agent.jar"
  mvn -B -q -ntp -DskipTests package
fi

SANDBOX=$(mktemp -d /tmp/zba-demo.XXXXXX)
TAG=$(basename "$SANDBOX" | tr -cd 'a-zA-Z0-9' | tail -c 6)
SRC=demosrc$TAG BAK=demobak$TAG OFF=demooff$TAG
PIDS=()
cleanup() {
  set +e
  # Only what this script started, by pid; then wait for them, so none outlives the script.
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  if [ -n "${MQTT_PORT:-}" ] && pgrep -f -- "-p $MQTT_PORT( |$)" >/dev/null; then
    echo "demo: left behind on port $MQTT_PORT:"; pgrep -af -- "-p $MQTT_PORT( |$)"
  fi
  sleep 0.5
  for pool in "$SRC" "$BAK" "$OFF"; do zpool destroy -f "$pool" 2>/dev/null; done
  rm -rf "$SANDBOX"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "sandbox $SANDBOX: pools $SRC (the host to back up), $BAK (backup server), $OFF (offsite)"
for pool in "$SRC" "$BAK" "$OFF"; do
  truncate -s 256M "$SANDBOX/$pool.img"
  zpool create -m none "$pool" "$SANDBOX/$pool.img"
done
# Datasets like the operator's: a data tree with a child that has its own snapshots, and another root.
zfs create -p -o mountpoint=none "$SRC/tank/data/photos"
zfs create -p -o mountpoint=none "$SRC/fastpool/compositions"
write_and_snapshot() {  # dataset snapshot megabytes
  local mnt="$SANDBOX/mnt"; mkdir -p "$mnt"
  zfs set mountpoint="$mnt" "$1"
  head -c "$(( $3 * 1024 * 1024 ))" /dev/urandom > "$mnt/$2.bin"
  sync
  zfs set mountpoint=none "$1"
  zfs snapshot "$1@$2"
}
write_and_snapshot "$SRC/tank/data" 2026-11-25 8
write_and_snapshot "$SRC/tank/data" 2026-11-26 4
write_and_snapshot "$SRC/tank/data/photos" weekly-1 24
write_and_snapshot "$SRC/fastpool/compositions" daily-1 2
zfs create -o canmount=off "$BAK/encryptedbackups"
zfs create -o canmount=off "$OFF/backups"

step "a private sshd (throwaway keys) and Mosquitto broker on 127.0.0.1"
SSH_PORT=$(free_port); MQTT_PORT=$(free_port)
ssh-keygen -q -t ed25519 -N '' -f "$SANDBOX/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$SANDBOX/id"
cp "$SANDBOX/id.pub" "$SANDBOX/authorized_keys"
mkdir -p /run/sshd
cat > "$SANDBOX/sshd_config" <<CONF
Port $SSH_PORT
ListenAddress 127.0.0.1
HostKey $SANDBOX/host_key
PidFile $SANDBOX/sshd.pid
AuthorizedKeysFile $SANDBOX/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
LogLevel ERROR
CONF
/usr/sbin/sshd -D -e -f "$SANDBOX/sshd_config" 2>"$SANDBOX/sshd.log" & PIDS+=($!)
cat > "$SANDBOX/mosquitto.conf" <<CONF
listener $MQTT_PORT 127.0.0.1
allow_anonymous true
persistence false
CONF
/usr/sbin/mosquitto -c "$SANDBOX/mosquitto.conf" 2>"$SANDBOX/mosquitto.log" & PIDS+=($!)
sleep 1

T=servers/host-backups
SUB=(mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT")
PUB=(mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -q 1)
cat > "$SANDBOX/agent.yaml" <<CONF
mqtt:
  url: tcp://127.0.0.1:$MQTT_PORT
  client_id: demo-agent
  topic: $T
  home_assistant: {enabled: true, discovery_prefix: homeassistant}
commands:
  zfs: [zfs]
  ssh: [ssh, -o, BatchMode=yes, -o, StrictHostKeyChecking=no, -o, UserKnownHostsFile=/dev/null, -o, LogLevel=ERROR, -i, $SANDBOX/id]
pull:
  target: $BAK/encryptedbackups
  receive_options: []          # zfs-fuse has no receive -u; use [-u] with OpenZFS
  sources:
    - name: host-storage
      host: 127.0.0.1
      user: root
      port: $SSH_PORT
      datasets: [$SRC/tank/data, $SRC/fastpool/compositions, $SRC/tank/data]
push:
  host: 127.0.0.1
  user: root
  port: $SSH_PORT
  target: $OFF/backups
  raw: false                   # zfs-fuse has no raw sends; keep true with OpenZFS encryption
  receive_options: []
power:
  command: [touch, $SANDBOX/powered-off]   # harmless: the real one is [systemctl, poweroff]
state_file: $SANDBOX/state.json
CONF
step "the agent: java -jar target/zfs-backup-agent.jar agent --config $SANDBOX/agent.yaml"
java -Xmx256m -jar "$ROOT/target/zfs-backup-agent.jar" agent --config "$SANDBOX/agent.yaml" >"$SANDBOX/agent.log" 2>&1 & AGENT=$!; PIDS+=($AGENT)
if [ "$("${SUB[@]}" -t "$T/availability" -C 1 -W 60)" != online ]; then
  echo "the agent did not come online:"; cat "$SANDBOX/agent.log"; exit 1
fi
echo "$T/availability: online"

# What the agent publishes, printed live as it arrives (retained state and discovery left out):
# one readable line per message; DEMO_RAW=1 prints the JSON as it is.
cat > "$SANDBOX/format.py" <<'PY'
import json, os, sys
raw = os.environ.get("DEMO_RAW") == "1"
def size(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
for line in sys.stdin:
    topic, _, payload = line.rstrip("\n").partition(" ")
    name = topic.rsplit("/", 1)[-1]
    try:
        m = json.loads(payload)
    except ValueError:
        m = None
    if raw or not isinstance(m, dict):
        print(f"  {topic} {payload}")
    elif name == "progress":
        frm, to, status = m["from"], m["to"], m["status"]
        if frm and frm == to:
            step, status, amount = "@" + to, "up to date", ""
        else:
            step = ("@" + frm + ".." if frm else "full ") + ("@" + to if to else "")
            amount = " " + size(m["bytes"]) if status in ("streaming", "done") else ""
            if not to:
                step = "(no snapshots)" if status == "skipped" else ""
        print(f"  progress  {m['phase']:4} {m['dataset']} {step} {status}{amount}")
    elif name == "error":
        print(f"  ERROR     {m['kind']}: {m['message']}")
    elif name == "result":
        d = m["datasets"]
        print(f"  result    {m['outcome']}: {d['sent']} sent, {d['up_to_date']} up to date, "
              f"{d['skipped']} skipped, {d['failed']} failed, {size(m['bytes'])} in {m['duration_ms'] / 1000:.1f} s")
    else:
        print(f"  {name:9} {m.get('event_type', payload)}  (cycle {m.get('cycle_id')}, run_id {m.get('run_id') or '-'})")
    sys.stdout.flush()
PY
# A process substitution, not a pipe: $! is then mosquitto_sub itself (with a pipe it would be
# python, and killing python left mosquitto_sub running, reconnecting to the dead broker forever).
# The formatter ends on its own when mosquitto_sub is gone.
"${SUB[@]}" -v -t "$T/progress" -t "$T/event" -t "$T/error" -t "$T/result" > >(python3 -u "$SANDBOX/format.py") & PIDS+=($!)
sleep 0.5

run_and_wait() {  # payload
  "${SUB[@]}" -t "$T/event" -C 2 -W 600 > "$SANDBOX/events" & local waiter=$!; PIDS+=($waiter)
  sleep 0.3
  "${PUB[@]}" -t "$T" -m "$1"
  wait "$waiter" || { echo "no finished event in time"; cat "$SANDBOX/agent.log"; exit 1; }
  sleep 0.5
}

step "mosquitto_pub -t $T -m run        (first cycle: full sends, then push offsite)"
run_and_wait run

step "a new snapshot on the host, then a second run (incremental)"
write_and_snapshot "$SRC/tank/data" 2026-11-27 6
run_and_wait '{"command": "run", "run_id": "demo-2"}'

step "mosquitto_pub -t $T -m suspend   (the old suspend-backups.sh, unchanged)"
"${SUB[@]}" -t "$T/availability" -C 2 -W 60 > "$SANDBOX/avail" & waiter=$!; PIDS+=($waiter)
sleep 0.3
"${PUB[@]}" -t "$T" -m suspend
wait "$waiter" || true
for _ in $(seq 1 50); do [ -f "$SANDBOX/powered-off" ] && break; sleep 0.2; done
echo "  availability: $(tr '\n' ' ' < "$SANDBOX/avail")"
[ -f "$SANDBOX/powered-off" ] && echo "  power command ran: touch $SANDBOX/powered-off"
echo "  retained result: $("${SUB[@]}" -t "$T/result" -C 1 -W 5)"

step "where the backups landed"
echo "# backup server ($BAK/encryptedbackups/<source>/<dataset>):"
zfs list -r -t all -o name,used,canmount "$BAK/encryptedbackups"
echo
echo "# offsite ($OFF/backups/<source>/<dataset>):"
zfs list -r -t all -o name,used,canmount "$OFF/backups"
step "done; the sandbox is removed on exit (agent log was $SANDBOX/agent.log)"
