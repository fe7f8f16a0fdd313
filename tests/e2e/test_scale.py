"""Several workers share one queue: each takes jobs while the others' slots are full."""

import asyncio

from tests.e2e.test_chat_completions import image_urls, openai_env

# Long enough for a second worker process to start on a busy 2-core machine before the first
# worker's jobs end (the first worker would otherwise take the waiting jobs itself).
SLOW = 8


async def test_a_new_worker_takes_the_jobs_others_have_no_slot_for(start_gateway, openai_upstream):
    server, _ = openai_upstream
    server.clear()
    gateway = start_gateway({**openai_env(server.url), "WORKER_CONCURRENCY": "2"})
    client = gateway.async_client()
    answers = asyncio.gather(
        *(
            client.chat.completions.create(
                model="flux-dev",
                messages=[{"role": "user", "content": f"__slow:{SLOW}__ a stilt {n}"}],
            )
            for n in range(4)
        )
    )
    while len(server.requests_to("/v1/images/generations")) < 2:  # the first worker is full
        await asyncio.sleep(0.02)
    # Queued ahead of the two waiting jobs stand the two the first worker runs.
    gateway.add_worker()
    assert all(image_urls(answer.choices[0].message.content) for answer in await answers)
    # A worker logs "job finished" just after storing the result its client already read.
    for _ in range(50):
        finished = [worker.logs().count('"message": "job finished"') for worker in gateway.workers]
        if sum(finished) == 4:
            break
        await asyncio.sleep(0.1)
    assert finished == [2, 2]
