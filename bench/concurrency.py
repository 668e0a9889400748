"""Sync handlers on threads or async handlers on the SDK's aio clients (issue 11): one SCIM PATCH's work, measured.

Each request does what a user PATCH does to storage, plus a fixed slice of our own CPU work:

1. one point read of the user's row (``get_entity``);
2. ``--model-rounds`` rounds of validating the stored document as our UserResource and dumping it again
   (scim2-models and pydantic: about what our own code spends on a PATCH);
3. one entity-group transaction of 3 rows: the user row (replace, conditional on the ETag just read), an
   index row (upsert) and the partition's counter row (merge).

Two ways to serve many such requests at once, in one process, alternating cell by cell so that the load of
this shared machine hits both alike:

- **sync**: the production client (scim.store.TableStorage: requests transport, bounded retries, our lean
  ``$batch`` envelope) driven by a ThreadPoolExecutor of T threads, as the Functions Python worker runs sync
  handlers on its PYTHON_THREADPOOL_THREAD_COUNT threads;
- **async**: azure.data.tables.aio on aiohttp with C tasks on one event loop, as async handlers would run.
  Its transactions go through an async copy of the same lean envelope, the best case of a port (the SDK's
  own multipart path, variant ``async-sdk``, costs more CPU than either).

Storage is a fresh in-memory Azurite (its table service, devhost.azurite) reached through a latency proxy in
a process of its own, which holds every chunk ``--delay-ms`` in each direction (default 4 ms: a round trip
gains 8 ms, which with Azurite's own 1-3 ms is an in-region Table Storage call) and one round trip more when
a connection opens. The measured process is pinned to one CPU, as a 2,048 MB Flex Consumption instance has
one core; Azurite and the proxy are not (they stand for Azure). Last, each client makes bare calls one at a
time (no model work), which shows how much of the difference is the HTTP client itself.

Per cell: requests/s, p50 and p99 latency, CPU ms per request of this process (time.process_time over the
measured window, all threads), the server side's CPU (Azurite and the proxy) per request, new connections
opened and errors; then the ratio async/sync at equal concurrency, and the thread count past which sync
stops gaining (the knee).

    python -m bench.concurrency                          # T and C = 1 4 8 16 32, 4 repetitions (~6 min)
    python -m bench.concurrency --levels 1 8 --repeats 1 --seconds 2 --variants sync,async
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import multiprocessing
import os
import platform
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from typing import Any

from devhost.azurite import ACCOUNT_KEY, ACCOUNT_NAME, AzuriteService, free_port
from scim.store import COUNTER_ROW_KEY, index_key, resource_id_of, resource_key

TABLE = "benchConcurrency"
ROWS_PER_WORKER = 4
"""Each worker (thread or task) patches its own rows in its own partition: no request waits on another's ETag."""
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
KNEE_GAIN = 0.10
"""Past the knee, one more step of threads gains less than this much throughput, or p99 latency grows faster
than the concurrency itself (requests only queue: each extra thread adds waiting, not work done)."""


# --- the latency proxy (its own process) ------------------------------------------------------------------


async def _forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    """Copy one direction, each chunk delivered `delay` seconds after it arrived (latency, not bandwidth)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()

    async def receive() -> None:
        try:
            while data := await reader.read(65536):
                queue.put_nowait((loop.time() + delay, data))
        except OSError:
            pass
        queue.put_nowait(None)

    receiving = asyncio.create_task(receive())
    try:
        while (item := await queue.get()) is not None:
            due, data = item
            if (wait := due - loop.time()) > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except OSError:
        pass
    finally:
        receiving.cancel()


async def _serve_proxy(listen_port: int, target_port: int, delay: float, accepted: Any, ready: Any) -> None:
    async def connection(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        with accepted.get_lock():
            accepted.value += 1
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", target_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.sleep(2 * delay)  # the TCP handshake's round trip
        await asyncio.gather(
            _forward(client_reader, upstream_writer, delay), _forward(upstream_reader, client_writer, delay)
        )
        for writer in (client_writer, upstream_writer):
            writer.close()

    server = await asyncio.start_server(connection, "127.0.0.1", listen_port, backlog=512)
    ready.set()
    async with server:
        await server.serve_forever()


def run_proxy(listen_port: int, target_port: int, delay: float, accepted: Any, ready: Any) -> None:
    """Entry point of the proxy process."""
    asyncio.run(_serve_proxy(listen_port, target_port, delay, accepted, ready))


# --- the request: one PATCH's storage pattern and a slice of our CPU work ---------------------------------


def seed_document(n: int) -> dict[str, Any]:
    """A stored user as a PATCH finds it: Entra's usual attributes, the enterprise extension, id and meta."""
    name = f"conc{n}@contoso.com"
    resource_id = f"{n:032x}"
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "id": resource_id,
        "externalId": f"ext-{n}",
        "userName": name,
        "active": True,
        "displayName": f"Concurrency User {n}",
        "name": {"givenName": "Concurrency", "familyName": f"User {n}", "formatted": f"Concurrency User {n}"},
        "emails": [{"primary": True, "type": "work", "value": name}],
        "title": "Engineer",
        "addresses": [{"type": "work", "country": "NL", "locality": "Utrecht", "primary": False}],
        ENTERPRISE: {"department": "R&D", "employeeNumber": str(n), "manager": {"value": f"{n + 1:032x}"}},
        "meta": {
            "resourceType": "User",
            "created": "2026-01-01T00:00:00Z",
            "lastModified": "2026-01-01T00:00:00Z",
            "version": 'W/"1"',
            "location": f"https://func-scim.azurewebsites.net/scim/v2/t/Users/{resource_id}",
        },
    }


class ModelWork:
    """The CPU slice: validate the stored document as UserResource and dump it, `rounds` times."""

    def __init__(self, rounds: int) -> None:
        from scim2_models import Context

        from scim.models import ENTRA_POLICY, UserResource

        self.rounds = rounds
        self._validate = lambda document: UserResource.model_validate(document, scim_policy=ENTRA_POLICY)
        self._context = Context.RESOURCE_QUERY_RESPONSE

    def __call__(self, text: str, seq: int) -> str:
        document = json.loads(text)
        for _ in range(self.rounds):
            document = self._validate(document).model_dump(scim_ctx=self._context)
        document["title"] = f"Engineer {seq % 7}"
        return json.dumps(document, separators=(",", ":"))

    def cost_ms(self, repeat: int = 200) -> float:
        text = json.dumps(seed_document(0))
        for n in range(20):
            self(text, n)
        started = time.process_time()
        for n in range(repeat):
            self(text, n)
        return (time.process_time() - started) * 1000 / repeat


@dataclass
class Rows:
    """One worker's partition and rows, patched in turn."""

    worker: int
    seq: int = 0

    @property
    def partition(self) -> str:
        return f"w{self.worker}"

    def next(self) -> tuple[str, str]:
        self.seq += 1
        n = self.worker * ROWS_PER_WORKER + self.seq % ROWS_PER_WORKER
        return resource_key(f"{n:032x}"), index_key("title", f"{n:032x}", None)


def operations(rows: Rows, row_key: str, index_key: str, document: str, etag: str) -> list[Any]:
    from azure.core import MatchConditions
    from azure.data.tables import TransactionOperation, UpdateMode

    pk = rows.partition
    return [
        (
            TransactionOperation.UPDATE,
            {"PartitionKey": pk, "RowKey": row_key, "Document0": document},
            {"mode": UpdateMode.REPLACE, "etag": etag, "match_condition": MatchConditions.IfNotModified},
        ),
        (TransactionOperation.UPSERT, {"PartitionKey": pk, "RowKey": index_key, "ResourceId": resource_id_of(row_key)}),
        (
            TransactionOperation.UPDATE,
            {"PartitionKey": pk, "RowKey": COUNTER_ROW_KEY, "Seq": rows.seq},
            {"mode": "merge"},
        ),
    ]


def patch_sync(table: Any, work: ModelWork, rows: Rows) -> None:
    row_key, index_key = rows.next()
    entity = table.get_entity(rows.partition, row_key)
    document = work(entity["Document0"], rows.seq)
    table.submit_transaction(operations(rows, row_key, index_key, document, entity.metadata["etag"]))


async def patch_async(table: Any, work: ModelWork, rows: Rows) -> None:
    row_key, index_key = rows.next()
    entity = await table.get_entity(rows.partition, row_key)
    document = work(entity["Document0"], rows.seq)  # runs on the event loop, as an async handler's would
    await table.submit_transaction(operations(rows, row_key, index_key, document, entity.metadata["etag"]))


# --- measuring a cell -------------------------------------------------------------------------------------


def _ticks(pid: int) -> int:
    """User + system CPU clock ticks of a process (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


@dataclass
class Probe:
    """What the measured window reads at its start and end."""

    server_pids: Sequence[int]
    accepted: Any

    def sample(self) -> tuple[float, float, float, int]:
        ticks = sum(_ticks(pid) for pid in self.server_pids)
        return time.perf_counter(), time.process_time(), ticks / os.sysconf("SC_CLK_TCK"), int(self.accepted.value)


@dataclass
class Cell:
    variant: str
    level: int
    rps: float
    cpu_ms: float
    server_ms: float
    connections: int
    errors: int
    latencies: list[float]


def summarise(
    variant: str,
    level: int,
    start: tuple[float, float, float, int],
    end: tuple[float, float, float, int],
    records: Sequence[Sequence[tuple[float, float]]],
    errors: int,
) -> Cell:
    t0, cpu0, server0, conns0 = start
    t1, cpu1, server1, conns1 = end
    latencies = [latency for worker in records for finished, latency in worker if t0 <= finished <= t1]
    done = max(len(latencies), 1)
    return Cell(
        variant=variant,
        level=level,
        rps=len(latencies) / (t1 - t0),
        cpu_ms=(cpu1 - cpu0) * 1000 / done,
        server_ms=(server1 - server0) * 1000 / done,
        connections=conns1 - conns0,
        errors=errors,
        latencies=latencies,
    )


def run_sync(table: Any, work: ModelWork, threads: int, probe: Probe, warmup: float, seconds: float) -> Cell:
    """T threads, each sending one request after another, as the worker's thread pool runs sync handlers."""
    stop = threading.Event()
    records: list[list[tuple[float, float]]] = [[] for _ in range(threads)]
    errors = [0] * threads

    def worker(n: int) -> None:
        rows, out = Rows(n), records[n]
        while not stop.is_set():
            started = time.perf_counter()
            try:
                patch_sync(table, work, rows)
            except Exception:
                errors[n] += 1
                continue
            ended = time.perf_counter()
            out.append((ended, ended - started))

    with ThreadPoolExecutor(threads, thread_name_prefix="handler") as pool:
        running = [pool.submit(worker, n) for n in range(threads)]
        time.sleep(warmup)
        start = probe.sample()
        time.sleep(seconds)
        end = probe.sample()
        stop.set()
        for future in running:
            future.result()
    return summarise("sync", threads, start, end, records, sum(errors))


async def run_async(table: Any, work: ModelWork, tasks: int, probe: Probe, warmup: float, seconds: float) -> Cell:
    """C tasks on this event loop, each sending one request after another, as async handlers would run."""
    stop = False
    records: list[list[tuple[float, float]]] = [[] for _ in range(tasks)]
    errors = [0] * tasks

    async def worker(n: int) -> None:
        rows, out = Rows(n), records[n]
        while not stop:
            started = time.perf_counter()
            try:
                await patch_async(table, work, rows)
            except Exception:
                errors[n] += 1
                continue
            ended = time.perf_counter()
            out.append((ended, ended - started))

    running = [asyncio.create_task(worker(n)) for n in range(tasks)]
    await asyncio.sleep(warmup)
    start = probe.sample()
    await asyncio.sleep(seconds)
    end = probe.sample()
    stop = True
    await asyncio.gather(*running)
    return summarise("async", tasks, start, end, records, sum(errors))


def bare_sync(table: Any, calls: int) -> tuple[float, float]:
    """CPU ms of one point read, and of one read + transaction, one call at a time, with no model work."""
    rows = Rows(0)
    row_key, index_key = rows.next()
    started = time.process_time()
    for _ in range(calls):
        table.get_entity(rows.partition, row_key)
    read = time.process_time() - started
    started = time.process_time()
    for _ in range(calls):
        entity = table.get_entity(rows.partition, row_key)
        table.submit_transaction(operations(rows, row_key, index_key, entity["Document0"], entity.metadata["etag"]))
    return read * 1000 / calls, (time.process_time() - started) * 1000 / calls


async def bare_async(table: Any, calls: int) -> tuple[float, float]:
    rows = Rows(0)
    row_key, index_key = rows.next()
    started = time.process_time()
    for _ in range(calls):
        await table.get_entity(rows.partition, row_key)
    read = time.process_time() - started
    started = time.process_time()
    for _ in range(calls):
        entity = await table.get_entity(rows.partition, row_key)
        await table.submit_transaction(
            operations(rows, row_key, index_key, entity["Document0"], entity.metadata["etag"])
        )
    return read * 1000 / calls, (time.process_time() - started) * 1000 / calls


# --- set-up, the run, the report --------------------------------------------------------------------------


def connection_string(port: int) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT_NAME};AccountKey={ACCOUNT_KEY};"
        f"TableEndpoint=http://127.0.0.1:{port}/{ACCOUNT_NAME};"
    )


def seed(table: Any, workers: int) -> None:
    """Every worker's rows and counter row, written directly to Azurite (no proxy delay)."""
    from azure.core.exceptions import ResourceExistsError

    with contextlib.suppress(ResourceExistsError):
        table.create_table()
    for worker in range(workers):
        rows = Rows(worker)
        table.upsert_entity({"PartitionKey": rows.partition, "RowKey": COUNTER_ROW_KEY, "Seq": 0})
        for _ in range(ROWS_PER_WORKER):
            row_key, _index = rows.next()
            n = int(resource_id_of(row_key) or "", 16)
            document = json.dumps(seed_document(n), separators=(",", ":"))
            table.upsert_entity({"PartitionKey": rows.partition, "RowKey": row_key, "Document0": document})


def sync_table(connection: str) -> Any:
    """The production client: TableStorage's lean-transaction TableClient (requests, bounded retries)."""
    from scim.store import TableStorage

    return TableStorage(connection_string=connection).table_client(TABLE)


async def async_table(connection: str, lean: bool) -> tuple[Any, Any]:
    """The aio TableClient on aiohttp, with the same timeouts and retry budget as production."""
    from azure.core.pipeline.transport import AioHttpTransport
    from azure.data.tables.aio import TableServiceClient

    from scim.store import RetryBudget, lean_async_transactions

    budget = RetryBudget()
    transport = AioHttpTransport(
        use_env_settings=False, connection_timeout=budget.connection_timeout, read_timeout=budget.read_timeout
    )
    service = TableServiceClient.from_connection_string(connection, transport=transport, **budget.client_options())
    table = service.get_table_client(TABLE)
    if lean:
        lean_async_transactions(table)
    return service, table


def pin_to_one_cpu(requested: int | None) -> int | None:
    """Pin this process (and the threads it starts) to one CPU; None leaves it free."""
    allowed = sorted(os.sched_getaffinity(0))
    if requested is not None and requested < 0:
        return None
    cpu = allowed[-1] if requested is None else requested
    os.sched_setaffinity(0, {cpu})
    return cpu


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class Summary:
    """One (variant, level) over all repetitions: medians of the rates, percentiles of the pooled latencies."""

    cells: list[Cell] = field(default_factory=list)

    def rps(self) -> float:
        return statistics.median(c.rps for c in self.cells)

    def cpu_ms(self) -> float:
        return statistics.median(c.cpu_ms for c in self.cells)

    def server_ms(self) -> float:
        return statistics.median(c.server_ms for c in self.cells)

    def latency_ms(self, q: float) -> float:
        return percentile([x for c in self.cells for x in c.latencies], q) * 1000

    def connections(self) -> int:
        return sum(c.connections for c in self.cells)

    def errors(self) -> int:
        return sum(c.errors for c in self.cells)


def knee(levels: Sequence[int], summaries: dict[int, Summary]) -> int:
    """The last level whose next step still pays: KNEE_GAIN more throughput, p99 growing slower than concurrency."""
    for here, there in itertools.pairwise(levels):
        gain = summaries[there].rps() / summaries[here].rps() - 1
        p99_growth = summaries[there].latency_ms(0.99) / summaries[here].latency_ms(0.99)
        if gain < KNEE_GAIN or p99_growth > there / here:
            return here
    return levels[-1]


def describe_machine(cpu: int | None) -> str:
    with open("/proc/cpuinfo") as cpuinfo:
        model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "?")
    pinned = f"pinned to CPU {cpu}" if cpu is not None else "not pinned"
    return (
        f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, measured process {pinned}; "
        f"azure-data-tables {version('azure-data-tables')}, azure-core {version('azure-core')}, "
        f"requests {version('requests')}, aiohttp {version('aiohttp')}"
    )


def print_report(
    levels: Sequence[int],
    variants: Sequence[str],
    results: dict[str, dict[int, Summary]],
    slice_ms: float,
    bare: dict[str, list[tuple[float, float]]],
) -> None:
    print("\nbare storage calls, one at a time, no model work (CPU ms each; medians of the rounds):")
    for name, samples in bare.items():
        read = statistics.median(r for r, _ in samples)
        pair = statistics.median(p for _, p in samples)
        print(f"  {name:<10} get_entity {read:5.2f}   get_entity + 3-row transaction {pair:5.2f}")
    print()
    print(
        f"{'variant':<10} {'conc':>4} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'CPU ms/req':>10} "
        f"{'1-core req/s':>12} {'server ms/req':>13} {'new conns':>9} {'errors':>6}  req/s per run"
    )
    for variant in variants:
        for level in levels:
            s = results[variant][level]
            runs = " ".join(f"{c.rps:.0f}" for c in s.cells)
            print(
                f"{variant:<10} {level:>4} {s.rps():>7.1f} {s.latency_ms(0.5):>7.1f} {s.latency_ms(0.99):>7.1f} "
                f"{s.cpu_ms():>10.2f} {1000 / s.cpu_ms():>12.0f} {s.server_ms():>13.2f} {s.connections():>9} "
                f"{s.errors():>6}  {runs}"
            )
    print(
        f"\n(1-core req/s = 1000 / CPU ms per request: what one core given wholly to this process would carry; "
        f"the CPU slice of our own work is {slice_ms:.2f} ms of it)"
    )
    for other in variants:
        if other == "sync":
            continue
        print(f"\n{other}/sync at equal concurrency: {'conc':>4} {'req/s':>7} {'CPU/req':>8} {'p50':>6} {'p99':>6}")
        for level in levels:
            a, s = results[other][level], results["sync"][level]
            print(
                f"{'':<33} {level:>4} {a.rps() / s.rps():>7.2f} {a.cpu_ms() / s.cpu_ms():>8.2f} "
                f"{a.latency_ms(0.5) / s.latency_ms(0.5):>6.2f} {a.latency_ms(0.99) / s.latency_ms(0.99):>6.2f}"
            )
    if "sync" in results and len(levels) > 1:
        print(
            f"\nsync knee: {knee(levels, results['sync'])} threads (the next step gains < {KNEE_GAIN:.0%} "
            "throughput, or p99 grows faster than the thread count)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 4, 8, 16, 32], help="threads T = tasks C")
    parser.add_argument(
        "--variants", default="sync,async,async-sdk", help="sync, async (our lean envelope), async-sdk (the SDK's)"
    )
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=4.0, help="measured window of each cell")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds run before each window")
    parser.add_argument("--delay-ms", type=float, default=4.0, help="one-way delay the proxy adds per direction")
    parser.add_argument("--model-rounds", type=int, default=5, help="validate+dump rounds per request")
    parser.add_argument("--bare-calls", type=int, default=60, help="calls per round of the bare-call comparison")
    parser.add_argument("--cpu", type=int, default=None, help="CPU to pin to (default: the last allowed; -1: none)")
    args = parser.parse_args()
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    if "sync" not in variants:
        variants.insert(0, "sync")

    started = datetime.now(UTC)
    load_before = os.getloadavg()
    spawn = multiprocessing.get_context("spawn")
    accepted = spawn.Value("i", 0)
    ready = spawn.Event()
    with AzuriteService("table") as azurite:  # the table service only: its queue would idle on the same CPUs
        proxy_port = free_port()
        proxy = spawn.Process(
            target=run_proxy, args=(proxy_port, azurite.port, args.delay_ms / 1000, accepted, ready), daemon=True
        )
        proxy.start()
        try:
            if not ready.wait(30):
                raise RuntimeError("the latency proxy did not start")
            cpu = pin_to_one_cpu(args.cpu)  # after Azurite and the proxy started: they stay unpinned
            from azure.data.tables import TableServiceClient

            direct = TableServiceClient.from_connection_string(connection_string(azurite.port))
            seed(direct.get_table_client(TABLE), max(args.levels))
            work = ModelWork(args.model_rounds)
            slice_ms = work.cost_ms()
            server_pids = [pid for pid in (azurite.pid, proxy.pid if proxy is not None else None) if pid is not None]
            probe = Probe(server_pids, accepted)
            through_proxy = connection_string(proxy_port)
            table = sync_table(through_proxy)
            loop = asyncio.new_event_loop()
            aio = {
                name: loop.run_until_complete(async_table(through_proxy, lean=name == "async"))
                for name in variants
                if name != "sync"
            }
            print(f"concurrency bench, {started:%Y-%m-%d %H:%M} UTC: {describe_machine(cpu)}")
            print(
                f"proxy delay {args.delay_ms:g} ms each way, CPU slice {args.model_rounds} validate+dump rounds = "
                f"{slice_ms:.2f} ms, {args.repeats} x {args.warmup:g}+{args.seconds:g} s per cell; "
                f"load average {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}"
            )
            results: dict[str, dict[int, Summary]] = {v: {level: Summary() for level in args.levels} for v in variants}
            runners: dict[str, Callable[[int], Cell]] = {
                "sync": lambda level: run_sync(table, work, level, probe, args.warmup, args.seconds)
            }
            for name, (_service, client) in aio.items():
                runners[name] = lambda level, client=client, name=name: _named(
                    loop.run_until_complete(run_async(client, work, level, probe, args.warmup, args.seconds)), name
                )
            turn = 0
            for repeat in range(args.repeats):
                for level in args.levels:
                    order = variants if turn % 2 == 0 else variants[::-1]
                    turn += 1
                    for name in order:
                        cell = runners[name](level)
                        results[name][level].cells.append(cell)
                        print(
                            f"  run {repeat + 1} {name:<9} {level:>3}: {cell.rps:7.1f} req/s, "
                            f"{cell.cpu_ms:6.2f} CPU ms/req, p99 {percentile(cell.latencies, 0.99) * 1000:6.1f} ms, "
                            f"load {os.getloadavg()[0]:.2f}",
                            flush=True,
                        )
            bare: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
            for turn in range(3):
                for name in variants if turn % 2 == 0 else variants[::-1]:
                    if name == "sync":
                        bare[name].append(bare_sync(table, args.bare_calls))
                    else:
                        bare[name].append(loop.run_until_complete(bare_async(aio[name][1], args.bare_calls)))
            for service, _client in aio.values():
                loop.run_until_complete(service.close())
            loop.close()
        finally:
            proxy.terminate()
            proxy.join(5)
    load_after = os.getloadavg()
    print_report(args.levels, variants, results, slice_ms, bare)
    print(
        f"load average before {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}, "
        f"after {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}; "
        f"{(datetime.now(UTC) - started).total_seconds():.0f} s"
    )


def _named(cell: Cell, name: str) -> Cell:
    cell.variant = name
    return cell


if __name__ == "__main__":
    main()
