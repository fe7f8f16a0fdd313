"""Job events against a real redis-server: backlog then live, exactly once, across restarts."""

import asyncio

import pytest

from common.schemas import Completed, JobResult, Progress
from common.store.events import EventHub, EventLog
from common.store.redis import connect
from imagegate.redis_server import RedisProcess

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def hub(redis):
    hub = EventHub(redis)
    task = asyncio.create_task(hub.run())
    await asyncio.wait_for(hub.connected.wait(), 5)
    yield hub
    task.cancel()


async def drain(follower, count: int) -> list:
    events = []
    while len(events) < count:
        event = await follower.next(5)
        assert event is not None, f"only {events} arrived"
        events.append(event)
    return events


async def test_a_follower_gets_the_backlog_then_live_events_once_each(redis, hub):
    log = EventLog(redis, ttl_seconds=60)
    await log.append("job1", Progress("one"))
    await log.append("job1", Progress("two"))
    async with hub.follow("job1") as follower:
        await log.append("job1", Progress("three"))
        assert [e.text for e in await drain(follower, 3)] == ["one", "two", "three"]
        assert await follower.next(0.2) is None  # nothing delivered twice


async def test_a_late_follower_replays_a_finished_job(redis, hub):
    log = EventLog(redis, ttl_seconds=60)
    result = JobResult(images=(), model="m", prompt="p", original="p")
    await log.append("job2", Progress("working"))
    await log.append("job2", Completed(result))
    async with hub.follow("job2") as first, hub.follow("job2") as second:
        for follower in (first, second):
            events = await drain(follower, 2)
            assert isinstance(events[-1], Completed) and events[-1].result == result


async def test_events_of_other_jobs_do_not_reach_a_follower(redis, hub):
    log = EventLog(redis, ttl_seconds=60)
    async with hub.follow("mine") as follower:
        await log.append("theirs", Progress("not for you"))
        await log.append("mine", Progress("for you"))
        assert [e.text for e in await drain(follower, 1)] == ["for you"]
        assert await follower.next(0.2) is None


async def test_events_expire_with_their_ttl(redis):
    await EventLog(redis, ttl_seconds=60).append("job3", Progress("x"))
    assert 0 < await redis.ttl("imagegate:job:job3:events") <= 60


async def test_many_followers_share_one_connection(redis, hub, redis_server):
    before = len(await redis.client_list())
    contexts = [hub.follow(f"many-{n}") for n in range(500)]
    followers = [await context.__aenter__() for context in contexts]
    # each reads its (empty) backlog: connections are borrowed, not held
    assert await asyncio.gather(*(follower.next(0.2) for follower in followers)) == [None] * 500
    # at most the client's pool (64) however many wait: none is held per waiting follower
    assert len(await redis.client_list()) - before <= 64
    writer = connect(redis_server.url)
    log = EventLog(writer, ttl_seconds=60)
    await asyncio.gather(*(log.append(f"many-{n}", Progress(str(n))) for n in range(500)))
    for n, follower in enumerate(followers):
        assert (await follower.next(5)).text == str(n)
    for context in contexts:
        await context.__aexit__(None, None, None)
    await writer.aclose()


async def test_a_follower_survives_a_redis_restart():
    server = RedisProcess().start()
    redis = connect(server.url)
    hub = EventHub(redis)
    task = asyncio.create_task(hub.run())
    try:
        await asyncio.wait_for(hub.connected.wait(), 5)
        async with hub.follow("job4") as follower:
            server.kill()
            server.start()  # same port, empty: like a Redis restart without persistence
            await asyncio.sleep(0.3)
            await asyncio.wait_for(hub.connected.wait(), 10)
            await EventLog(redis, ttl_seconds=60).append("job4", Progress("after the restart"))
            assert (await follower.next(10)).text == "after the restart"
    finally:
        task.cancel()
        await redis.aclose()
        server.stop()
