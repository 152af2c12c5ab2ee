"""The demo network: deterministic, resumable, varied, and answering back in threads.

Time is simulated: the injected sleep advances the injected clock at once,
so an hour of stream takes milliseconds and nothing waits on the wall clock.
"""

from __future__ import annotations

import asyncio
import collections
import re
from contextlib import aclosing
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from adapters.base import Batch, ReplyError, ReplyRequest, SourceState, SourceStatus
from adapters.demo import content as content
from adapters.demo.adapter import DemoAdapter
from store.records import NewMention
from store.sanitize import clean_line, clean_text

START = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
EMOJI = re.compile("[\U0001F300-\U0001FAFF\u2600-\u27BF]")
CARE_WORDS = re.compile(r"late|refund|charged|broken|login|connecter|retard|remboursement|ticket|update", re.I)


class FakeTime:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self, start: datetime = START):
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> datetime:
        return self.now

    async def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += timedelta(seconds=seconds)


def make(time: FakeTime | None = None, **options) -> tuple[DemoAdapter, FakeTime]:
    time = time or FakeTime()
    return DemoAdapter(sleep=time.sleep, clock=time.clock, **options), time


async def take(adapter: DemoAdapter, count: int, cursor: str | None = None,
               batches: list[Batch] | None = None) -> list[NewMention]:
    mentions: list[NewMention] = []
    async with aclosing(adapter.stream(cursor)) as stream:
        async for batch in stream:
            if batches is not None:
                batches.append(batch)
            mentions.extend(batch.mentions)
            if len(mentions) >= count:
                return mentions[:count]
    raise AssertionError("stream ended")


def at(mention: NewMention) -> datetime:
    return datetime.fromisoformat(mention.created_at.replace("Z", "+00:00"))


def seq(remote_id: str) -> int:
    return int(remote_id.split(":")[1])


def request_for(mention: NewMention, key: str, text: str = "Sorry about that! Could you DM us your order number?"):
    return ReplyRequest(reply_id=1, key=key, text=text, network="demo", mention_remote_id=mention.remote_id,
                        author_handle=mention.author_handle, reply_ref=mention.reply_ref, mention_url=mention.url)


@pytest.fixture(scope="module")
def corpus() -> list[NewMention]:
    adapter, _ = make()
    return asyncio.run(take(adapter, 2000))


# --- determinism and resuming ---------------------------------------------------


async def test_same_seed_and_start_give_the_same_stream():
    first = await take(make()[0], 400)
    second = await take(make()[0], 400)
    assert first == second
    other_seed = await take(make(seed=8)[0], 400)
    assert [m.text for m in other_seed] != [m.text for m in first]


async def test_resume_from_cursor_continues_without_repeating_remote_ids():
    batches: list[Batch] = []
    whole = await take(make()[0], 600, batches=batches)
    assert [m.remote_id for m in whole] == [f"demo:{n}" for n in range(1, 601)]
    # The cursor of every batch is the seq of its last mention.
    assert all(batch.cursor == batch.mentions[-1].remote_id.removeprefix("demo:") for batch in batches)

    later = FakeTime(START + timedelta(hours=5))
    resumed = await take(make(later)[0], 200, cursor="300")
    assert resumed[0].remote_id == "demo:301"
    assert not {m.remote_id for m in resumed} & {m.remote_id for m in whole[:300]}
    # The same posts as the uninterrupted stream, only delivered later.
    def fields(m: NewMention) -> tuple:
        return m.remote_id, m.author_handle, m.text, m.parent_remote_id, m.root_remote_id, m.lang

    assert [fields(m) for m in resumed] == [fields(m) for m in whole[300:500]]
    assert at(resumed[0]) >= later.now - timedelta(minutes=10)


async def test_unreadable_cursor_starts_over_rather_than_failing():
    mentions = await take(make()[0], 3, cursor="not-a-seq")
    assert mentions[0].remote_id == "demo:1"


async def test_streaming_reports_live():
    statuses: list[SourceStatus] = []
    adapter, _ = make(on_status=statuses.append)
    await take(adapter, 1)
    assert statuses and statuses[0].state is SourceState.LIVE


# --- what the stream looks like -----------------------------------------------------


def test_records_are_well_formed_and_already_clean(corpus):
    for m in corpus:
        n = seq(m.remote_id)
        assert m.network == "demo" and m.account == "@brightloop"
        assert re.fullmatch(r"@[a-z0-9_.]+", m.author_handle), m.author_handle
        assert m.url == f"https://demo.social/{m.author_handle}/{n}"
        assert m.reply_ref["seq"] == n
        assert m.lang in ("en", "fr")
        assert m.created_at.endswith("Z") and at(m).tzinfo is not None
        assert m.raw["id"] == str(n) and m.raw["content"] == m.text
        assert "@brightloop" in m.text.lower()
        assert 0 < len(m.text) <= 500
        assert clean_text(m.text) == m.text
        assert clean_line(m.author_name) == m.author_name and clean_line(m.author_handle) == m.author_handle
        assert m.cleaned() == m
    times = [at(m) for m in corpus]
    assert times == sorted(times)


def test_texts_vary_and_rarely_repeat(corpus):
    texts = [m.text for m in corpus]
    assert len(set(texts)) >= 0.9 * len(texts)
    french = sum(m.lang == "fr" for m in corpus) / len(corpus)
    assert 0.15 <= french <= 0.35
    assert sum(bool(EMOJI.search(t)) for t in texts) > 0.2 * len(texts)
    assert sum("https://" in t for t in texts) > 0.03 * len(texts)
    assert sum(bool(re.search(r"#\w+", t)) for t in texts) > 0.2 * len(texts)
    others = [t for t in texts if re.search(r"@(?!brightloop\b)[\w.]+", t)]
    assert len(others) > 0.1 * len(texts)
    assert any("[" in t and "]" in t for t in texts)  # literal brackets a markup parser would eat
    assert any("\n" in t for t in texts)
    for word in ("refund", "late", "update", "battery", "charging case", "log", "charged", "#LoopLaunch",
                 "#WinWithLoop", "Loop Watch", "Loop Buds"):
        assert any(word.lower() in t.lower() for t in texts), word


def test_posts_that_are_both_care_and_marketing(corpus):
    both = [m for m in corpus if m.raw["demo"]["topic"] == "both" and m.parent_remote_id is None]
    assert len(both) >= 20
    marketing = re.compile(r"#LoopLaunch|#WinWithLoop|love|adore|best|géniale|incredible", re.I)
    mixed = [m for m in both if CARE_WORDS.search(m.text) and marketing.search(m.text)]
    assert len(mixed) >= 10
    assert any("love the new" in m.text.lower() and "late" in m.text.lower() for m in both)


def test_threads_point_at_earlier_posts(corpus):
    by_id = {m.remote_id: m for m in corpus}
    replies = [m for m in corpus if m.parent_remote_id]
    assert len(replies) > 200
    same_author = other_author = deep = 0
    for m in replies:
        parent, root = by_id[m.parent_remote_id], by_id[m.root_remote_id]
        assert seq(parent.remote_id) < seq(m.remote_id) and seq(root.remote_id) <= seq(parent.remote_id)
        assert root.parent_remote_id is None and root.root_remote_id is None
        assert parent.root_remote_id in (None, root.remote_id)
        assert m.lang == root.lang
        same_author += m.author_handle == root.author_handle
        other_author += m.author_handle != root.author_handle
        deep += parent.parent_remote_id is not None
    assert same_author > 30 and other_author > 30 and deep > 30


def test_some_authors_post_often(corpus):
    counts = collections.Counter(m.author_handle for m in corpus)
    top = counts.most_common(5)
    assert top[0][1] >= 40, top
    assert len(counts) >= 200
    assert sum(1 for c in counts.values() if c >= 5) >= 30
    names = {m.author_handle: m.author_name for m in corpus}
    assert all(names[h] for h in names)


def test_bursts_are_incidents_at_a_higher_rate(corpus):
    runs: list[list[NewMention]] = []
    previous = None
    for m in corpus:
        phase = m.raw["demo"]["phase"]
        if phase == "burst":
            if previous != "burst":
                runs.append([])
            runs[-1].append(m)
        previous = phase
    complete = runs[:-1]  # the last may be cut off by the end of the sample
    assert len(complete) >= 3
    seen: set[str] = set()
    before = 0
    for run in complete:
        assert 40 <= len(run) <= 150
        first_posts = [m for m in run if m.parent_remote_id is None]
        incidents = {m.raw["demo"]["incident"] for m in first_posts}
        assert len(incidents) == 1 and None not in incidents
        assert sum(m.raw["demo"]["topic"] == "incident" for m in run) >= 0.8 * len(run)
        # The surge starts at burst_factor x the base rate and eases off.
        head = run[: len(run) // 4]
        head_rate = (len(head) - 1) / (at(head[-1]) - at(head[0])).total_seconds()
        assert head_rate >= 5 * 40 / 60, head_rate
        duration = (at(run[-1]) - at(run[0])).total_seconds()
        assert 15 <= duration <= 150
        # Many who pile in have never posted before.
        start = corpus.index(run[0])
        seen |= {m.author_handle for m in corpus[before:start]}
        before = start
        newcomers = sum(m.author_handle not in seen for m in first_posts)
        assert newcomers >= 0.4 * len(first_posts)
    # Bursts come about every burst_every (240 s) apart.
    gaps = [(at(b[0]) - at(a[0])).total_seconds() for a, b in pairwise(complete)]
    assert all(180 <= gap <= 330 for gap in gaps), gaps


def test_every_template_renders():
    """Every template fills all its slots, in both voices, with and without someone to answer."""
    import random

    rng = random.Random(1)
    author = content.CAST[0]
    for (_topic, lang), templates in content.TEMPLATES.items():
        for template in templates:
            text = content.fill(template, rng, lang, {"b": "@brightloop", "friend": "@sam_h"})
            assert "{" not in text and "}" not in text, template
    for (group, who, lang), templates in content.FOLLOWUPS.items():
        for template in templates:
            assert "{" not in content.fill(template, rng, lang, {"b": "@brightloop", "p": "@sam_h"})
        assert "{" not in content.thread_post(rng, group, who, author, lang, "@brightloop", "")
    for (_group, _outcome, lang), templates in content.REPLY_FOLLOWUPS.items():
        for template in templates:
            assert "{" not in content.fill(template, rng, lang, {"b": "@brightloop"})
    for incident in content.INCIDENTS:
        for lang, templates in (("en", incident.en), ("fr", incident.fr)):
            for template in templates:
                assert "{" not in content.fill(template, rng, lang, {"b": "@brightloop"})


# --- pace ---------------------------------------------------------------------------


async def test_configured_rate_is_respected_in_simulated_time():
    batches: list[Batch] = []
    adapter, _ = make(rate_per_minute=40, burst_every=None)
    mentions = await take(adapter, 2000, batches=batches)
    minutes = (at(mentions[-1]) - START).total_seconds() / 60
    assert 2000 / minutes == pytest.approx(40, rel=0.1)
    assert len(batches) >= 0.95 * len(mentions)  # at a human pace, posts arrive one by one

    adapter, _ = make(rate_per_minute=120, burst_every=None, seed=3)
    mentions = await take(adapter, 2000)
    minutes = (at(mentions[-1]) - START).total_seconds() / 60
    assert 2000 / minutes == pytest.approx(120, rel=0.1)


async def test_high_rates_arrive_in_batches():
    batches: list[Batch] = []
    adapter, time = make(rate_per_minute=120_000, burst_every=None)
    mentions = await take(adapter, 10_000, batches=batches)
    seconds = (time.now - START).total_seconds()
    assert 10_000 / seconds == pytest.approx(2000, rel=0.1)
    assert sum(len(b.mentions) for b in batches) / len(batches) >= 50
    assert len(time.sleeps) <= len(batches) + 1
    assert len({m.remote_id for m in mentions}) == 10_000


async def test_a_long_pause_does_not_turn_into_a_flood():
    adapter, time = make(rate_per_minute=40, burst_every=None)
    async with aclosing(adapter.stream(None)) as stream:
        await anext(stream)
        time.now += timedelta(hours=1)  # the consumer was suspended
        batch = await anext(stream)
    assert len(batch.mentions) <= 20


# --- replies ------------------------------------------------------------------------


async def test_reply_is_idempotent_and_the_author_answers_in_the_thread():
    adapter, time = make(answer_chance=1.0)
    async with aclosing(adapter.stream(None)) as stream:
        seen: list[NewMention] = []
        while not any(m.lang == "en" and m.raw["demo"]["topic"] in content.CARE_TOPICS for m in seen):
            seen.extend((await anext(stream)).mentions)
        mention = next(m for m in seen if m.lang == "en" and m.raw["demo"]["topic"] in content.CARE_TOPICS)

        request = request_for(mention, "3lbtestkey222")
        assert await adapter.find_reply(request) is None
        sent = await adapter.send_reply(request)
        sent_at = time.now
        assert sent.remote_id == "demo:reply:3lbtestkey222" and sent.url
        assert await adapter.send_reply(request) == sent
        assert await adapter.find_reply(request) == sent
        assert await adapter.find_reply(request_for(mention, "3lbotherkey22")) is None

        answers: list[NewMention] = []
        later: list[NewMention] = []
        while len(later) < 400:
            batch = (await anext(stream)).mentions
            later.extend(batch)
            answers.extend(m for m in batch if m.parent_remote_id == sent.remote_id)
    assert len(answers) == 1  # sent twice, posted once, answered once
    answer = answers[0]
    assert answer.author_handle == mention.author_handle and answer.author_name == mention.author_name
    assert answer.root_remote_id == (mention.root_remote_id or mention.remote_id)
    assert answer.lang == "en"
    assert 4 <= (at(answer) - sent_at).total_seconds() <= 90
    assert clean_text(answer.text) == answer.text and "@brightloop" in answer.text.lower()
    # Seqs stay contiguous: the answer took a slot, nothing was skipped or repeated.
    ids = [seq(m.remote_id) for m in seen + later]
    assert ids == list(range(1, len(ids) + 1))
    # Nothing in the stream hangs off the post the answer replaced.
    assert all(m.parent_remote_id != answer.remote_id for m in later)

    # Replying to the answer keeps the conversation in the same thread.
    again = await adapter.send_reply(request_for(answer, "3lbtestkey333", "Glad to hear it!"))
    async with aclosing(adapter.stream(str(seq(later[-1].remote_id)))) as stream:
        second: list[NewMention] = []
        for _ in range(400):
            second.extend((await anext(stream)).mentions)
            if any(m.parent_remote_id == again.remote_id for m in second):
                break
    reply_to_reply = next(m for m in second if m.parent_remote_id == again.remote_id)
    assert reply_to_reply.root_remote_id == answer.root_remote_id
    assert reply_to_reply.author_handle == mention.author_handle


async def test_french_threads_answer_in_french():
    adapter, _ = make(answer_chance=1.0, seed=11)
    async with aclosing(adapter.stream(None)) as stream:
        seen: list[NewMention] = []
        while not any(m.lang == "fr" and m.parent_remote_id is None for m in seen):
            seen.extend((await anext(stream)).mentions)
        mention = next(m for m in seen if m.lang == "fr" and m.parent_remote_id is None)
        sent = await adapter.send_reply(request_for(mention, "3lbfrenchkey2", "Désolés ! Écrivez-nous en MP."))
        for _ in range(500):
            batch = (await anext(stream)).mentions
            answer = next((m for m in batch if m.parent_remote_id == sent.remote_id), None)
            if answer:
                break
    assert answer is not None and answer.lang == "fr" and answer.root_remote_id == mention.remote_id


async def test_answers_come_only_sometimes():
    adapter, _ = make(answer_chance=0.5, burst_every=None)
    mentions = await take(adapter, 60)
    sent = {(await adapter.send_reply(request_for(m, f"3lbkey{i:07d}"))).remote_id for i, m in enumerate(mentions)}
    later = await take(adapter, 1500, cursor="60")
    answered = {m.parent_remote_id for m in later} & sent
    assert 15 <= len(answered) <= 45
    # Answers only take the place of posts nobody replies to: every thread stays whole.
    by_id = {m.remote_id: m for m in mentions + later}
    for m in later:
        if m.parent_remote_id in by_id:
            parent = by_id[m.parent_remote_id]
            assert m.root_remote_id == (parent.root_remote_id or parent.remote_id)


async def test_send_refuses_what_the_network_would_refuse():
    adapter, _ = make()
    mention = (await take(adapter, 1))[0]
    with pytest.raises(ReplyError) as empty:
        await adapter.send_reply(request_for(mention, "3lbempty22222", "   "))
    assert empty.value.permanent
    with pytest.raises(ReplyError) as long:
        await adapter.send_reply(request_for(mention, "3lblong222222", "x" * 501))
    assert long.value.permanent
    # A link counts 23 however long it is, as on Mastodon.
    with_link = "y" * 470 + " https://example.com/" + "z" * 80
    assert await adapter.send_reply(request_for(mention, "3lblink22222", with_link))
    unknown = ReplyRequest(reply_id=2, key="3lbunknown222", text="hi", network="demo",
                           mention_remote_id="elsewhere:1", author_handle="@x", reply_ref={})
    with pytest.raises(ReplyError) as missing:
        await adapter.send_reply(unknown)
    assert missing.value.permanent
    assert adapter.text_rule.limit == 500 and adapter.text_rule.count("https://" + "a" * 100) == 23


async def test_transient_failures_can_be_simulated():
    adapter, _ = make(reply_failure_rate=1.0)
    mention = (await take(adapter, 1))[0]
    request = request_for(mention, "3lbflaky22222")
    with pytest.raises(ReplyError) as failed:
        await adapter.send_reply(request)
    assert not failed.value.permanent and failed.value.retry_after
    assert await adapter.find_reply(request) is None


async def test_a_restart_from_the_stored_cursor_stores_every_post_once(store):
    from store.ingest import load_cursor, save_batch

    async def run(adapter: DemoAdapter, count: int) -> int:
        stored = 0
        async with aclosing(adapter.stream(load_cursor(store, adapter.source))) as stream:
            async for batch in stream:
                stored += len(save_batch(store, adapter.source, batch.mentions, batch.cursor))
                if stored >= count:
                    return stored
        raise AssertionError("stream ended")

    assert await run(make()[0], 250) == 250
    # A new process: same seed, fresh memory, resuming from what was committed.
    assert await run(make(FakeTime(START + timedelta(days=1)))[0], 150) == 150
    assert load_cursor(store, "demo:@brightloop") == "400"
    rows = store.conn.execute("SELECT count(*), count(DISTINCT remote_id) FROM mentions").fetchone()
    assert rows == (400, 400)
    orphans = store.conn.execute(
        """SELECT count(*) FROM mentions m WHERE m.parent_remote_id IS NOT NULL AND NOT EXISTS
           (SELECT 1 FROM mentions p WHERE p.network = m.network AND p.remote_id = m.parent_remote_id)"""
    ).fetchone()[0]
    assert orphans == 0
