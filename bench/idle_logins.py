"""What idle_rss_split.py and idle_plus_active.py share: the options of a login and many clients
logged in at once, through ../shared/bench/idle-clients.py's own login (trust, md5 or SCRAM)."""
import asyncio, importlib.util, os, resource


def add_login_options(ap):
    """--shared, --port, --clients and the login's --user, --password, --db."""
    ap.add_argument("--shared", required=True, help="../shared/bench (for idle-clients.py)")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--clients", type=int, default=10000)
    ap.add_argument("--user", default="bench")
    ap.add_argument("--password", default=os.environ.get("BENCH_PASSWORD", "bench"))
    ap.add_argument("--db", default=os.environ.get("BENCH_DB", "bench"))


def idle_clients_module(shared):
    """../shared/bench/idle-clients.py, loaded as a module (its name has a dash)."""
    spec = importlib.util.spec_from_file_location("idle_clients", os.path.join(shared, "idle-clients.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def log_in(clients, args, return_exceptions=False):
    """args.clients connections to 127.0.0.1:args.port, 64 handshakes in flight; with
    return_exceptions, a failed login is its exception in the list."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    gate = asyncio.Semaphore(64)

    async def one():
        async with gate:
            return await clients.connect("127.0.0.1", args.port, args.user, args.db, args.password)

    return await asyncio.gather(*[one() for _ in range(args.clients)], return_exceptions=return_exceptions)
