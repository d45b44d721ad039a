#!/usr/bin/env python3
"""A TCP proxy that adds a fixed delay in each direction, for
bench/run.sh --s3 where the kernel has no netem qdisc.

    latency_proxy.py LISTEN_PORT TARGET_HOST:TARGET_PORT ONE_WAY_MS PIDFILE [COUNTFILE]

Every chunk read from one side is written to the other ONE_WAY_MS after
it was read, in order, without holding the next chunk back (latency, not
a bandwidth limit): a request/response pair costs 2 x ONE_WAY_MS more.
Runs until killed (bench/run.sh stops it by the PID in PIDFILE).

With COUNTFILE, SIGUSR1 makes it write there the bytes it relayed so far,
"UP DOWN\n" (client to target, target to client), and SIGUSR2 resets them:
bench/random_access.sh counts what a restore fetched from the bucket.
"""
import asyncio
import os
import signal
import sys
import time


# Bytes relayed: [client to target, target to client].
relayed = [0, 0]


async def pump(reader, writer, delay, way):
    q = asyncio.Queue()

    async def deliver():
        while True:
            item = await q.get()
            if item is None:
                break
            due, data = item
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        try:
            writer.write_eof()
        except OSError:
            pass

    task = asyncio.create_task(deliver())
    try:
        while True:
            data = await reader.read(1 << 18)
            if not data:
                break
            relayed[way] += len(data)
            q.put_nowait((time.monotonic() + delay, data))
            # Bounded memory: wait when the far side falls behind.
            while q.qsize() > 256:
                await asyncio.sleep(0.001)
    except (ConnectionError, OSError):
        pass
    q.put_nowait(None)
    try:
        await task
    except (ConnectionError, OSError):
        pass


async def main():
    port, target, ms, pidfile = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), sys.argv[4]
    countfile = sys.argv[5] if len(sys.argv) > 5 else None
    host, tport = target.rsplit(":", 1)
    delay = ms / 1000.0

    async def handle(cr, cw):
        try:
            sr, sw = await asyncio.open_connection(host, int(tport))
        except OSError:
            cw.close()
            return
        await asyncio.gather(pump(cr, sw, delay, 0), pump(sr, cw, delay, 1))
        for w in (cw, sw):
            w.close()

    if countfile:
        def report():
            with open(countfile + ".new", "w") as f:
                f.write("%d %d\n" % tuple(relayed))
            os.replace(countfile + ".new", countfile)

        def reset():
            relayed[0] = relayed[1] = 0

        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGUSR1, report)
        loop.add_signal_handler(signal.SIGUSR2, reset)
    server = await asyncio.start_server(handle, "127.0.0.1", port)
    with open(pidfile, "w") as f:
        f.write("%d\n" % os.getpid())
    async with server:
        await server.serve_forever()


asyncio.run(main())
