#!/usr/bin/env bash
# End-to-end run of the AWS Lambda on loopback, then a measurement of the shipped binary.
#
#  1. moto (DynamoDB, SNS, SQS) on a free port; the state table, the alert topic and a queue
#     subscribed to it.
#  2. `cargo lambda watch` runs the function with the detector's environment; `cargo lambda
#     invoke --data-file <snapshot share fixture>`; the subscribed queue must receive the alert.
#  3. If scripts/build-aws.sh has produced the x86_64 zip: its `bootstrap` is started under
#     /usr/bin/time -v against a minimal Lambda Runtime API (Python, below) that records when the
#     process first asks for work (cold init: process start → ready) and serves one invocation;
#     prints init time, invocation time and peak RSS.
#
# Every process is stopped by its PID (process group for the cargo lambda one) on exit.
# Usage: scripts/e2e-aws-lambda.sh [fixture.json]   (T1578_LAMBDA_ZIP=path measures another zip)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
venv="$root/.tools/venv"
export PATH="$venv/bin:$PATH"
py="$venv/bin/python"
fixture=${1:-events/aws/ec2-modify-snapshot-attribute-share.json}
for need in "$venv/bin/moto_server" "$venv/bin/cargo-lambda"; do
  [ -x "$need" ] || { echo "$need is missing: run scripts/install-tools.sh" >&2; exit 1; }
done
[ -f "$fixture" ] || { echo "fixture $fixture not found" >&2; exit 1; }

work=$(mktemp -d /tmp/t1578-e2e.XXXXXX)
moto_pid='' watch_pgid='' rt_pid='' time_pid=''
cleanup() {
  [ -n "$time_pid" ] && { stop_children "$time_pid"; kill "$time_pid" 2>/dev/null || true; }
  [ -n "$rt_pid" ] && kill "$rt_pid" 2>/dev/null || true
  [ -n "$watch_pgid" ] && kill -TERM -- "-$watch_pgid" 2>/dev/null || true
  [ -n "$moto_pid" ] && kill "$moto_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
stop_children() { # pid: stop the direct children of one of our processes, by PID
  local c
  for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do kill -TERM "$c" 2>/dev/null || true; done
}

free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { # url seconds
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    curl -s -o /dev/null "$1" && return 0
    sleep 0.1
  done
  echo "no answer from $1 after $2 s" >&2
  return 1
}

moto_port=$(free_port)
moto_server -H 127.0.0.1 -p "$moto_port" >"$work/moto.log" 2>&1 &
moto_pid=$!
wait_http "http://127.0.0.1:$moto_port/" 30
endpoint="http://127.0.0.1:$moto_port"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1

# Table, topic, subscribed queue. Prints: topic ARN, queue URL.
read -r topic_arn queue_url < <("$py" - "$endpoint" <<'PY'
import sys, boto3
ep = sys.argv[1]
ddb, sns, sqs = (boto3.client(s, endpoint_url=ep) for s in ("dynamodb", "sns", "sqs"))
ddb.create_table(TableName="t1578-state", BillingMode="PAY_PER_REQUEST",
                 AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                 KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
ddb.update_time_to_live(TableName="t1578-state",
                        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"})
topic = sns.create_topic(Name="t1578-alerts")["TopicArn"]
q = sqs.create_queue(QueueName="t1578-alerts-sub")["QueueUrl"]
arn = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
print(topic, q)
PY
)

# Prints the alerts now on the queue as JSON lines (and deletes them).
drain_alerts() {
  "$py" - "$endpoint" "$queue_url" <<'PY'
import sys, json, boto3
sqs = boto3.client("sqs", endpoint_url=sys.argv[1])
while True:
    got = sqs.receive_message(QueueUrl=sys.argv[2], MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    if not got:
        break
    for m in got:
        print(json.loads(m["Body"])["Message"])
        sqs.delete_message(QueueUrl=sys.argv[2], ReceiptHandle=m["ReceiptHandle"])
PY
}

check_alert() { # file-with-alert-lines label
  "$py" - "$1" "$fixture" "$2" <<'PY'
import sys, json, jsonschema
alerts = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
detail = json.load(open(sys.argv[2]))["detail"]
schema = json.load(open("schema/alert.schema.json"))
for a in alerts:
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(a)
ok = [a for a in alerts
      if a["unmapped"]["tier"] == "critical" and a["evidences"][0]["api"]["request"]["uid"] == detail["eventID"]]
if len(ok) != 1:
    sys.exit(f"{sys.argv[3]}: expected one critical alert for {detail['eventID']}, got {alerts}")
a = ok[0]
print(f"{sys.argv[3]}: alert {a['metadata']['uid']} {a['severity']}/{a['unmapped']['tier']} "
      f"{a['finding_info']['attacks'][0]['technique']['uid']} principal={a['actor']['user']['name']} "
      f"account={a['cloud']['account']['uid']} dedup_key={a['metadata']['correlation_uid']} (schema-valid)")
PY
}

fn_env=(
  "T1578_STATE_TABLE=t1578-state"
  "T1578_ALERT_TOPIC_ARN=$topic_arn"
  "T1578_PROFILE=default"
  "T1578_WINDOW=24h"
  "T1578_MODE=alert"
  "AWS_ENDPOINT_URL=$endpoint"
  "AWS_REGION=us-east-1"
  "AWS_ACCESS_KEY_ID=testing"
  "AWS_SECRET_ACCESS_KEY=testing"
)

# --- 2. cargo lambda watch + invoke -----------------------------------------------------------
watch_port=$(free_port)
env_args=()
for kv in "${fn_env[@]}"; do env_args+=(--env-var "$kv"); done
# `watch` compiles the function on the first invoke; setsid gives it its own process group so
# cleanup stops cargo-lambda and the function together.
setsid cargo lambda watch -A 127.0.0.1 -P "$watch_port" --ignore-changes "${env_args[@]}" \
  >"$work/watch.log" 2>&1 &
watch_pgid=$!
for ((i = 0; i < 600; i++)); do
  (exec 3<>"/dev/tcp/127.0.0.1/$watch_port") 2>/dev/null && break
  sleep 0.5
done
start=$(date +%s.%N)
cargo lambda invoke bootstrap --invoke-address 127.0.0.1 --invoke-port "$watch_port" \
  --data-file "$fixture" >"$work/invoke.out" 2>"$work/invoke.err" || {
  echo "cargo lambda invoke failed:" >&2
  cat "$work/invoke.err" "$work/watch.log" >&2
  exit 1
}
end=$(date +%s.%N)
echo "invoke response: $(cat "$work/invoke.out")"
"$py" -c "import sys; print(f'first invoke through cargo lambda watch (includes building the debug binary): {float(sys.argv[2]) - float(sys.argv[1]):.1f} s')" "$start" "$end"
drain_alerts >"$work/alerts-watch.jsonl"
check_alert "$work/alerts-watch.jsonl" "cargo lambda watch"
init_line=$(grep -iE "init" "$work/watch.log" | tail -1 || true)
[ -n "$init_line" ] && echo "watch log: $init_line"
kill -TERM -- "-$watch_pgid" 2>/dev/null || true
wait "$watch_pgid" 2>/dev/null || true
watch_pgid=''

# --- 3. measure the shipped binary --------------------------------------------------------------
zip="${T1578_LAMBDA_ZIP:-target/lambda/x86_64/bootstrap/bootstrap.zip}"
if [ ! -f "$zip" ]; then
  echo "measurement skipped: $zip not built (run scripts/build-aws.sh)"
  exit 0
fi
echo "zip: $zip $(stat -c %s "$zip") bytes"
unzip -q -o "$zip" -d "$work/pkg"
rt_port=$(free_port)
# Minimal Runtime API: serves the fixture once, records when the function first asks for work.
"$py" - "$rt_port" "$fixture" "$work/rt.json" <<'PY' &
import http.server, json, sys, threading, time
port, event, out = int(sys.argv[1]), open(sys.argv[2], "rb").read(), sys.argv[3]
st = {"first_next": None, "served": False}
done = threading.Event()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_GET(self):
        if not self.path.endswith("/runtime/invocation/next"):
            self.send_response(404); self.send_header("Content-Length", "0"); self.end_headers(); return
        if st["first_next"] is None:
            st["first_next"] = time.time()
        if st["served"]:
            done.wait(); time.sleep(3600); return
        st["served"], st["sent"] = True, time.time()
        self.send_response(200)
        for k, v in {"Content-Type": "application/json", "Lambda-Runtime-Aws-Request-Id": "e2e-1",
                     "Lambda-Runtime-Deadline-Ms": str(int((time.time() + 30) * 1000)),
                     "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:123456789012:function:t1578",
                     "Content-Length": str(len(event))}.items():
            self.send_header(k, v)
        self.end_headers(); self.wfile.write(event)
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(202); self.send_header("Content-Length", "0"); self.end_headers()
        json.dump({"first_next": st["first_next"], "sent": st["sent"], "done": time.time(),
                   "path": self.path, "body": body.decode(errors="replace")}, open(out + ".tmp", "w"))
        import os; os.replace(out + ".tmp", out); done.set()
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PY
rt_pid=$!
wait_http "http://127.0.0.1:$rt_port/" 10 || true
t0=$(date +%s.%N)
env "${fn_env[@]}" AWS_LAMBDA_RUNTIME_API="127.0.0.1:$rt_port" AWS_LAMBDA_FUNCTION_NAME=t1578 \
  AWS_LAMBDA_FUNCTION_VERSION='$LATEST' AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128 \
  AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/t1578 AWS_LAMBDA_LOG_STREAM_NAME=e2e \
  /usr/bin/time -v "$work/pkg/bootstrap" >"$work/bootstrap.out" 2>"$work/bootstrap.err" &
time_pid=$!
for ((i = 0; i < 300; i++)); do [ -f "$work/rt.json" ] && break; sleep 0.1; done
[ -f "$work/rt.json" ] || { echo "the bootstrap did not answer the invocation" >&2; cat "$work/bootstrap.err" >&2; exit 1; }
sleep 0.2
stop_children "$time_pid"
wait "$time_pid" 2>/dev/null || true
time_pid=''
"$py" - "$work/rt.json" "$t0" <<'PY'
import json, sys
r, t0 = json.load(open(sys.argv[1])), float(sys.argv[2])
print(f"release bootstrap: cold init (process start -> first /next) {1000 * (r['first_next'] - t0):.1f} ms, "
      f"first invocation {1000 * (r['done'] - r['sent']):.1f} ms, result {r['path'].rsplit('/', 1)[-1]}: {r['body']}")
PY
rss=$(grep "Maximum resident set size" "$work/bootstrap.err" | awk '{print $NF}')
echo "release bootstrap: peak RSS ${rss} KiB ($((rss / 1024)) MiB)"
drain_alerts >"$work/alerts-release.jsonl"
check_alert "$work/alerts-release.jsonl" "release bootstrap"
