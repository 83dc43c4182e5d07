"""Rollcall for Python, standard library only: the wire protocol in a second language. README.md beside
this file shows its use and says what it covers; the repository's docs/protocol.md the protocol.
"""
import gzip, hashlib, json, logging, random, threading, time, uuid  # noqa: E401
import urllib.error, urllib.request  # noqa: E401

NAME, VERSION = "rollcall-python", "0.1.0"
COUNTERS = ("received", "processed", "failed", "compared", "mismatched", "skipped", "dropped")
log = logging.getLogger("rollcall")

def murmur3(data: bytes, seed: int = 0) -> int:
    """MurmurHash3 x86 32-bit of `data`, unsigned."""
    c1, c2, mask = 0xCC9E2D51, 0x1B873593, 0xFFFFFFFF
    h, whole = seed & mask, len(data) & ~3
    for i in range(0, whole, 4):
        k = (int.from_bytes(data[i:i + 4], "little") * c1) & mask
        h ^= (((k << 15) | (k >> 17)) * c2) & mask
        h = ((((h << 13) | (h >> 19)) & mask) * 5 + 0xE6546B64) & mask
    if len(data) > whole:
        k = (int.from_bytes(data[whole:], "little") * c1) & mask
        h ^= (((k << 15) | (k >> 17)) * c2) & mask
    h ^= len(data)
    h = ((h ^ (h >> 16)) * 0x85EBCA6B) & mask
    h = ((h ^ (h >> 13)) * 0xC2B2AE35) & mask
    return h ^ (h >> 16)

def utf8(text: str) -> bytes:
    """UTF-8 as JavaScript's TextEncoder makes it: a lone surrogate becomes U+FFFD."""
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace").encode("utf-8")

def position(salt: str, partner_id: str) -> int:
    """The partner's place in basis points, 0..9999: (h % 100) * 100 + floor(h / 100) % 100."""
    h = murmur3(utf8(f"{salt}:{partner_id}"))
    return (h % 100) * 100 + (h // 100) % 100

def route(rollout: dict, pins: dict, partner_id: str):
    """(path, cohort) by the contract's rule, in its order."""
    state = rollout["state"]
    if state not in ("running", "paused", "completed"):
        return "old", "baseline"  # draft, reverted
    if state != "completed" and partner_id in pins:
        return pins[partner_id], "pinned"
    where = position(rollout["salt"], partner_id)
    band = next((c for c in rollout["cohorts"] if c["from"] <= where < c["to"]), None)
    if state == "completed":
        return "new", band["name"] if band else "completed"
    if band is not None:
        return ("new" if band["status"] == "active" else "old"), band["name"]
    return ("shadow", "shadow") if where < rollout["shadow"] else ("old", "baseline")

def wire_id(value: str) -> str:
    """An id as it travels: past 256 UTF-16 units, its first 190, '#' and the hex SHA-256 of all of it."""
    units = value.encode("utf-16-le", "surrogatepass")  # JavaScript counts and cuts strings in UTF-16 units
    if len(units) <= 2 * 256:
        return value
    return units[: 2 * 190].decode("utf-16-le", "surrogatepass") + "#" + hashlib.sha256(utf8(value)).hexdigest()

now_ms = lambda: int(time.time() * 1000)  # noqa: E731 - epoch milliseconds, as every timestamp travels

class Client:
    def __init__(self, url, sdk_key, *, stream=True, poll_interval=30.0, flush_interval=1.0, timeout=10.0, max_buffered=10_000):
        self.url, self._key, self._stream, self._timeout, self._poll_interval = url.rstrip("/"), sdk_key, stream, timeout, poll_interval
        self._flush_interval, self.instance_id = flush_interval, str(uuid.uuid4())
        self._max_buffered = min(max_buffered, 20_000)  # so that one batch always fits (20,000 messages)
        self._lock, self._sending, self._closed, self._ready = threading.RLock(), threading.Lock(), threading.Event(), threading.Event()
        self._rollouts, self.version, self._etag, self.stopped = {}, None, None, False
        self._cells, self._open, self._events, self._queue, self._queued = {}, {}, [], [], 0

    def start(self, wait: float = 5.0) -> "Client":
        """Starts the background threads; returns once a snapshot is in hand, or raises."""
        for target in (self._config_loop, self._flush_loop):
            threading.Thread(target=target, daemon=True).start()
        if not self._ready.wait(wait) or self.stopped:
            raise RuntimeError("the key was refused" if self.stopped else f"no snapshot within {wait} s")
        return self

    def path(self, rollout_key: str, partner_id: str) -> str:
        """'old' | 'new' | 'shadow'; never raises. Unknown rollouts and empty ids are 'old'."""
        try:
            return self._route(rollout_key, partner_id)[0]
        except Exception:  # noqa: BLE001 - routing must never break the host
            return "old"

    def _route(self, rollout_key, partner_id):
        entry = self._rollouts.get(rollout_key)
        usable = entry is not None and isinstance(partner_id, str) and partner_id != ""
        return route(entry[0], entry[1], partner_id) if usable else ("old", "baseline")

    def _request(self, method, path, body=None, headers=None, timeout=None):
        request = urllib.request.Request(self.url + path, body, {"authorization": f"Bearer {self._key}", **(headers or {})}, method=method)
        return urllib.request.urlopen(request, timeout=timeout or self._timeout)

    def _apply(self, snapshot, etag=None):
        with self._lock:
            if self.version is not None and snapshot["version"] < self.version:
                return  # from a server that has not caught up yet
            self._rollouts = {r["key"]: (r, {p["partnerId"]: p["path"] for p in r["pins"]}) for r in snapshot["rollouts"]}
            self.version, self._etag = snapshot["version"], etag or self._etag
        self._ready.set()

    def _poll(self):
        try:
            with self._request("GET", "/v1/sdk/config", headers={"if-none-match": self._etag} if self._etag else {}) as res:
                self._apply(json.load(res), res.headers.get("etag"))
        except urllib.error.HTTPError as error:
            if error.code != 304:  # 304: the snapshot in hand is current
                raise

    def _listen(self) -> bool:
        """Applies snapshots off the SSE stream until it ends or is silent for 45 s (heartbeats come every 15 s); True
        if it delivered one."""
        delivered, event, data = False, None, []
        with self._request("GET", "/v1/sdk/stream", headers={"accept": "text/event-stream"}, timeout=45) as res:
            for raw in res:
                line = raw.decode("utf-8").rstrip("\r\n")
                if self._closed.is_set():
                    break
                if line == "" and event == "snapshot" and data:
                    self._apply(json.loads("\n".join(data)))
                    delivered = True
                if line == "":
                    event, data = None, []
                elif not line.startswith(":"):
                    field, _, value = line.partition(":")
                    value = value[1:] if value.startswith(" ") else value
                    event = value if field == "event" else event
                    data += [value] if field == "data" else []
        return delivered

    def _config_loop(self):
        attempt = 0
        while not self._closed.is_set():
            try:
                self._poll()
                if not self._stream:
                    self._closed.wait(self._poll_interval)
                    continue
                attempt = 0 if self._listen() else attempt
            except Exception as error:  # noqa: BLE001 - network trouble: back off, poll meanwhile
                if isinstance(error, urllib.error.HTTPError) and error.code in (401, 403):
                    return self._stop(error)
                log.warning("rollcall: %s", error)
            delay = min(60.0, 2.0 ** attempt) * (0.5 + random.random() / 2)  # 1 s first, doubling, jitter
            attempt += 1
            self._closed.wait(min(delay, self._poll_interval))

    def received(self, rollout_key: str, partner_id: str, message_id: str) -> None:
        """A message arrived; processed() or failed() follows, here or in another process."""
        with self._lock:
            key = (rollout_key, str(message_id))
            if rollout_key not in self._rollouts or not partner_id or not message_id or key in self._open:
                return
            path, cohort = self._route(rollout_key, partner_id)
            self._cell(rollout_key, cohort, path)["received"] += 1
            self._open[key] = {"partnerId": partner_id, "cell": (rollout_key, cohort, path), "receivedAt": now_ms(), "reported": False}

    def processed(self, rollout_key: str, partner_id: str, message_id: str) -> None:
        self._settle(rollout_key, partner_id, message_id, "processed", None)

    def failed(self, rollout_key: str, partner_id: str, message_id: str, error: str = "failed") -> None:
        self._settle(rollout_key, partner_id, message_id, "failed", str(error)[:500])

    def _settle(self, rollout_key, partner_id, message_id, status, error):
        with self._lock:
            if rollout_key not in self._rollouts or not message_id:
                return
            record = self._open.pop((rollout_key, str(message_id)), None)
            if record is None:  # received in another process: counted here, and named so the two meet
                path, cohort = self._route(rollout_key, partner_id)
                record = {"partnerId": partner_id or "", "cell": (rollout_key, cohort, path), "reported": True}
            self._cell(*record["cell"])[status] += 1
            # A failure always travels by id; a success only if the server has heard of the message.
            if status == "failed" or record["reported"]:
                self._push(record["cell"], self._event(message_id, record, status, now_ms(), error))

    def _cell(self, rollout_key, cohort, path):
        cell = self._cells.get((rollout_key, cohort, path))
        if cell is None:  # `second`: that of this window's first event in the cell
            cell = dict(rollout=rollout_key, cohort=cohort, path=path, second=int(time.time()), **dict.fromkeys(COUNTERS, 0))
            self._cells[(rollout_key, cohort, path)] = cell
        return cell

    def _event(self, message_id, record, status, at, error=None):
        rollout_key, cohort, path = record["cell"]
        event = {"rollout": rollout_key, "messageId": wire_id(str(message_id)), "partnerId": wire_id(record["partnerId"]), "cohort": cohort,
                 "path": path, "status": status, "receivedAt": record.get("receivedAt"), "at": at, "error": error}
        return {name: value for name, value in event.items() if value is not None}

    def _push(self, cell_key, event) -> bool:
        if len(self._events) + self._queued >= self._max_buffered:
            self._cell(*cell_key)["dropped"] += 1  # the buffer is full: counted and reported, never silently lost
            return False
        self._events.append(event)
        return True

    def _seal(self):
        """This window's counts and every message still open, into batches that keep their batchId."""
        with self._lock:
            for (_, message_id), record in self._open.items():
                if not record["reported"]:
                    record["reported"] = self._push(record["cell"], self._event(message_id, record, "open", record["receivedAt"]))
            counts, events, self._cells, self._events = list(self._cells.values()), self._events, {}, []
            if counts or events:
                self._queue.append(({"batchId": str(uuid.uuid4()), "sdk": {"name": NAME, "version": VERSION, "instanceId": self.instance_id},
                                     "sentAt": now_ms(), "counts": counts, "messages": events, "mismatches": [], "noise": []}, len(events)))
                self._queued += len(events)

    def _post(self, batch):
        body = gzip.compress(json.dumps(batch, separators=(",", ":")).encode("utf-8"))
        # x-rollcall-clock: this machine's time now; the server moves our timestamps onto its clock by it.
        headers = {"content-type": "application/json", "content-encoding": "gzip", "x-rollcall-clock": str(now_ms())}
        with self._request("POST", "/v1/sdk/reports", body, headers) as res:
            ack = json.load(res)
        if not isinstance(ack, dict) or ack.get("batchId") != batch["batchId"]:
            raise RuntimeError(f"the answer did not acknowledge batch {batch['batchId']}")

    def flush(self) -> bool:
        """Seals what is buffered and sends every queued batch, oldest first; True once all are acknowledged."""
        with self._sending:
            self._seal()
            while self._queue and not self.stopped:
                batch, events = self._queue[0]
                try:
                    self._post(batch)
                except Exception as error:  # noqa: BLE001 - unacknowledged: kept with its batchId, sent again
                    code = error.code if isinstance(error, urllib.error.HTTPError) else 0
                    if code in (401, 403):
                        return self._stop(error) or False
                    log.warning("rollcall: %s", error)
                    if code not in (400, 413, 415):
                        return False
                with self._lock:  # acknowledged, or refused for good (kept, it would block every later batch forever)
                    self._queue.pop(0)
                    self._queued -= events
            return not self._queue

    def _flush_loop(self):
        failures = 0
        while not self._closed.wait(min(30.0, self._flush_interval * 2 ** failures)):
            failures = 0 if self.flush() else min(failures + 1, 5)

    def _stop(self, error):
        self.stopped = True
        log.warning("rollcall: the key was refused, stopping: %s", error)
        self._ready.set()

    def close(self) -> bool:
        """Stops the background threads and sends what is buffered; True if the server took it all."""
        self._closed.set()
        return self.flush()
