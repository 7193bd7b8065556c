"""Matching benchmark: latency, index build, start-up, `check` and memory, real and synthetic.

Run: `.venv/bin/python bench/matching.py [--questions FILE] [--synthetic N] [--repeat R]`
(`--startup [--runs N]`: only the start-up figures of the generated base, issue 16's four
goals, judged on the median of N runs).

Measures the same code the bot runs:
- per-question latency (median, p95) of `Matcher.ask` on the real knowledge base and on a
  generated base of N stories (default 5,000) whose triggers are random sentences over the
  real vocabulary plus invented words, so the vocabulary grows as a real base would; the
  generated base is written as YAML files to a temporary directory and loaded from there;
- index build time for both (in-process, no cache);
- start-up to first answer: `python -m bot ask --responses DIR QUESTION` in a fresh process,
  for the real and the generated base, cold (empty data directory: YAML parsed, index built
  and cached) and warm (the cache of the previous run is used), with the child's peak RSS;
- `python -m bot check --responses DIR` in a fresh process, cold and warm;
- a baseline: plain `rapidfuzz.process.extractOne` (WRatio, default_process) over all trigger
  strings, the obvious one-liner, with the ratio of our median to its median.
Goals (issue 7): on the real base p95 < 20 ms per question (long situations included),
start-up to first answer < 2 s, RSS < 250 MB; (issue 8) at 5,000 stories: p95 < 20 ms,
start-up to first answer < 2 s and `check` < 10 s (warm: a restart of the bot, the cache built
by an earlier run; the cold figure is printed beside it); (issue 9) with 1,000 phrasings taught
by team leads (`--taught N`: dev questions of eval/ reworded and perturbed, and sentences over
the real vocabulary, each pointing at a random story) p95 < 20 ms on the real base, and adding
one (`Matcher.teach`, the tap of a team lead) < 50 ms; (issue 16) at 5,000 stories: first
start with no cache < 15 s, start after editing one story < 3 s, start with a full cache < 2 s,
`check` < 10 s, each printed with its ratio against the cold start of the same run.
No semantic signal is measured side by side: it was not adopted (README, "Quality").
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from rapidfuzz import fuzz, process, utils  # noqa: E402

from bot.content.knowledge import load_knowledge  # noqa: E402
from bot.content.model import KnowledgeBase  # noqa: E402
from bot.content.validation import load_story  # noqa: E402
from bot.engine.matcher import Matcher  # noqa: E402
from bot.engine.normalize import get_normalizer  # noqa: E402

# Dev set 2: long situations (up to ~90 words) are the slow case, so they set the p95.
DEFAULT_QUESTIONS = PROJECT / "eval" / "dev-questions-2.yaml"
FALLBACK_QUESTIONS = [
    "customer saya marah karena pesanannya telat, gimana minta maafnya",
    "klien ngancem putus kerjasama kalau saya gak dateng besok",
    "teknisi kami pacaran sama staf klien dan jarang masuk",
    "kado ulang tahun buat pelanggan prioritas dianter siapa",
    "how do I win back an official let down by our sales team",
    "what is the weather in Jakarta today",
    "cara menghitung pajak penghasilan",
]
SYNTHETIC_SEED = "000_synthetic.txt"
BASELINE_SAMPLE = 20  # questions timed with the extractOne baseline on a large base
# Beside anecdotes/ in a knowledge base: the matcher reads these (copied from responses/).
BASE_FILES = ("normalize.yaml", "concepts.yaml", "calibration.yaml", "smalltalk.yaml")
# Where taught phrasings are drawn from: the dev questions (never the held-out set).
TAUGHT_SOURCES = ("dev-questions.yaml", "dev-questions-2.yaml")
# Chat words a salesperson adds around a question ("dong", "nih", "gimana ya").
FILLERS = ["dong", "nih", "ya", "sih", "gimana", "tolong", "bro", "kak", "please", "btw", "deh"]


def load_real_base() -> KnowledgeBase:
    """The stories of responses/ (UI texts are not needed to match)."""
    seeds = PROJECT / "seeds"
    files = sorted((PROJECT / "responses" / "anecdotes").glob("*.yaml"))
    stories = tuple(load_story(path, seeds) for path in files)
    return KnowledgeBase(stories=stories, ui={}, seeds_dir=seeds)


def load_questions(path: Path) -> list[str]:
    if path.is_file():
        import yaml

        data = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        questions = [item["q"] for item in data if isinstance(item, dict) and "q" in item]
        if questions:
            return questions
    return list(FALLBACK_QUESTIONS)


def write_synthetic_base(real: KnowledgeBase, size: int, target: Path, seed: int = 7) -> Path:
    """Write `size` stories of random sentences (real words mixed with invented ones) as
    YAML files under `target`/responses, with the real UI texts and word table; return it.

    Each file has what the validator asks for (title, story, three lessons, 30 + 15
    triggers, tags, three tips) and three situations over the real situations' words, so
    `check` and `ask` load it as they would a real base.
    """
    rng = random.Random(seed)
    normalizer = get_normalizer()
    real_words = sorted(
        {
            word
            for story in real.stories
            for lang in ("id", "en")
            for text in story.triggers[lang]
            for word in normalizer.split(text)
        }
    )
    syllables = ["ka", "ri", "mu", "ten", "sa", "po", "lan", "gi", "du", "ber", "ma", "ngu"]
    invented = sorted(
        {"".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))) for _ in range(20_000)}
    )
    vocabulary = real_words + invented
    situation_words = (
        sorted(
            {
                word
                for story in real.stories
                for situation in story.situations
                for lang in ("id", "en")
                for word in normalizer.split(situation.get(lang))
            }
        )
        or vocabulary
    )

    def situation() -> str:
        return " ".join(rng.choice(situation_words) for _ in range(rng.randint(12, 24)))

    def situations(count: int) -> str:
        return "".join(
            f"  - id: {json.dumps(situation())}\n    en: {json.dumps(situation())}\n"
            for _ in range(count)
        )

    def sentence() -> str:
        return " ".join(rng.choice(vocabulary) for _ in range(rng.randint(5, 11)))

    def text(indent: str) -> str:
        # JSON strings are valid YAML double-quoted scalars, and much faster to write.
        return f"{indent}id: {json.dumps(sentence())}\n{indent}en: {json.dumps(sentence())}\n"

    def items(count: int) -> str:
        return "".join("  - " + text("    ")[4:] for _ in range(count))

    def strings(count: int) -> str:
        return "".join(f"    - {json.dumps(sentence())}\n" for _ in range(count))

    responses = target / "responses"
    stories = responses / "anecdotes"
    stories.mkdir(parents=True)
    shutil.copytree(PROJECT / "responses" / "ui", responses / "ui")
    for name in BASE_FILES:
        if (PROJECT / "responses" / name).is_file():
            shutil.copy(PROJECT / "responses" / name, responses / name)
    seeds = target / "seeds"
    seeds.mkdir()
    (seeds / SYNTHETIC_SEED).write_text("A synthetic post.\n", encoding="utf-8")
    for i in range(size):
        (stories / f"{i:05d}-syn.yaml").write_text(
            f"id: syn-{i}\nseed: {SYNTHETIC_SEED}\n"
            f"title:\n{text('  ')}story:\n{text('  ')}lessons:\n{items(3)}"
            f"triggers:\n  id:\n{strings(30)}  en:\n{strings(15)}"
            f"tags:\n  id:\n{strings(1)}  en:\n{strings(1)}tips:\n{items(3)}"
            f"situations:\n{situations(3)}",
            encoding="utf-8",
        )
    return responses


def timings(fn: Callable[[str], object], questions: Sequence[str], repeat: int) -> list[float]:
    """Seconds per call, each question `repeat` times (first call of each counted too)."""
    out = []
    for _ in range(repeat):
        for question in questions:
            start = time.perf_counter()
            fn(question)
            out.append(time.perf_counter() - start)
    return out


def p95(values: Sequence[float]) -> float:
    return statistics.quantiles(values, n=20)[18] if len(values) >= 20 else max(values)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.3f} ms"


def baseline(kb: KnowledgeBase) -> Callable[[str], object]:
    """The naive matcher: best trigger string by WRatio, no normalisation, no index."""
    choices = [t for a in kb.stories for lang in ("id", "en") for t in a.triggers[lang]]

    def ask(question: str) -> object:
        return process.extractOne(
            question, choices, scorer=fuzz.WRatio, processor=utils.default_process
        )

    return ask


def fresh_process(args: Sequence[str], data_dir: Path) -> tuple[float, float]:
    """(wall seconds, peak RSS MB) of `python -m bot ARGS` in a new process, from spawn to
    exit, with BOT_DATA_DIR set to `data_dir` (where the index cache lives)."""
    env = {**os.environ, "BOT_DATA_DIR": str(data_dir), "PYTHONPATH": str(PROJECT)}
    start = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "bot", *args],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert child.stderr is not None
    errors = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"python -m bot {' '.join(args)} failed:\n{errors.decode()}")
    return wall, usage.ru_maxrss / 1024


def fresh_figures(
    name: str, responses: Path, seeds: Path, question: str, edit: bool = False
) -> dict[str, tuple[float, float]]:
    """Start-up to first answer and `check`, cold then warm, in fresh processes."""
    where = ["--responses", str(responses), "--seeds", str(seeds)]
    figures: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="kisah-bench-data-") as data:
        figures["ask cold"] = fresh_process(["ask", *where, question], Path(data))
        figures["ask warm"] = fresh_process(["ask", *where, question], Path(data))
        if edit:  # a generated base only: never the project's own files
            edited = sorted((responses / "anecdotes").glob("*.yaml"))[len(figures) % 7]
            original = edited.read_bytes()
            edited.write_bytes(
                original.replace(
                    b"triggers:\n  id:\n", b'triggers:\n  id:\n    - "gudang kebanjiran lagi"\n', 1
                )
            )
            try:  # one story edited: only it is parsed and analysed again
                figures["ask edited"] = fresh_process(["ask", *where, question], Path(data))
            finally:
                edited.write_bytes(original)
    with tempfile.TemporaryDirectory(prefix="kisah-bench-data-") as data:
        figures["check cold"] = fresh_process(["check", *where], Path(data))
        figures["check warm"] = fresh_process(["check", *where], Path(data))
    print(
        f"\n{name}: fresh processes (python -m bot ...; cold = empty data dir, the baseline;"
        " warm = cached; edited = cached, one story changed; ratio against cold, same run)"
    )
    for label, (wall, rss) in figures.items():
        baseline = figures["check cold" if label.startswith("check") else "ask cold"][0]
        print(
            f"  {label:<10}  {wall * 1000:9.0f} ms   ratio {wall / baseline:6.3f}"
            f"   peak RSS {rss:6.1f} MB"
        )
    return figures


def report(
    name: str, kb: KnowledgeBase, questions: Sequence[str], repeat: int
) -> tuple[float, float, float]:
    start = time.perf_counter()
    matcher = Matcher(kb)
    build = time.perf_counter() - start
    ours = timings(matcher.ask, questions, repeat)
    # The one-liner takes seconds per question at 5,000 stories: a sample is enough there.
    sample = questions if len(kb.stories) <= 1000 else questions[:BASELINE_SAMPLE]
    base = timings(baseline(kb), sample, max(1, repeat // 2))
    triggers = sum(len(a.triggers["id"]) + len(a.triggers["en"]) for a in kb.stories)
    print(f"\n{name}: {len(kb.stories)} stories, {triggers} triggers, {len(questions)} q")
    print(f"  index build            {ms(build)}")
    print(f"  Matcher.ask   median   {ms(statistics.median(ours))}   p95 {ms(p95(ours))}")
    print(f"  extractOne    median   {ms(statistics.median(base))}   p95 {ms(p95(base))}")
    ratio = statistics.median(ours) / statistics.median(base)
    speed = f"{1 / ratio:.1f}x faster" if ratio < 1 else f"{ratio:.1f}x slower"
    print(f"  ratio ours/extractOne  {ratio:8.3f}  (median; ours is {speed})")
    return statistics.median(ours), p95(ours), build


def taught_phrasings(kb: KnowledgeBase, count: int, seed: int = 9) -> list[tuple[str, str]]:
    """`count` (story id, question) pairs as team leads would teach them: half the dev
    questions of eval/ reworded (a word dropped, two swapped, a chat word added, a letter
    doubled), half sentences of 4-12 words over the real trigger vocabulary; random stories."""
    rng = random.Random(seed)
    dev = [q for name in TAUGHT_SOURCES for q in load_questions(PROJECT / "eval" / name)]
    normalizer = get_normalizer()
    vocabulary = sorted(
        {
            word
            for story in kb.stories
            for lang in ("id", "en")
            for text in story.triggers[lang]
            for word in normalizer.split(text)
        }
    )

    def perturb(question: str) -> str:
        words = question.split()
        for _ in range(rng.randint(1, 3)):
            change = rng.randrange(4)
            if change == 0 and len(words) > 3:
                del words[rng.randrange(len(words))]
            elif change == 1 and len(words) > 1:
                i = rng.randrange(len(words) - 1)
                words[i], words[i + 1] = words[i + 1], words[i]
            elif change == 2:
                words.insert(rng.randrange(len(words) + 1), rng.choice(FILLERS))
            else:
                i = rng.randrange(len(words))
                if words[i]:
                    j = rng.randrange(len(words[i]))
                    words[i] = words[i][: j + 1] + words[i][j:]  # a typo: a letter doubled
        return " ".join(words)

    stories = [a.id for a in kb.stories]
    pairs = []
    for i in range(count):
        if i % 2 and dev:
            text = perturb(rng.choice(dev))
        else:
            text = " ".join(rng.choice(vocabulary) for _ in range(rng.randint(4, 12)))
        pairs.append((rng.choice(stories), text))
    return pairs


def report_taught(
    kb: KnowledgeBase, questions: Sequence[str], repeat: int, count: int
) -> tuple[float, float]:
    """p95 per question with 0 and `count` taught phrasings, and the time to teach one."""
    matcher = Matcher(kb)
    matcher.ask(questions[0])  # warm the caches both runs share
    before = timings(matcher.ask, questions, repeat)
    adds = []
    used = 0
    for key, (story_id, text) in enumerate(taught_phrasings(kb, count)):
        start = time.perf_counter()
        used += matcher.teach(key, story_id, text)
        adds.append(time.perf_counter() - start)
    after = timings(matcher.ask, questions, repeat)
    print(f"\nreal base + taught phrasings: {used} of {count} taught, {len(questions)} q")
    print(f"  taught phrasings       {0:>11}  {count:>11}")
    mid = (statistics.median(before), statistics.median(after))
    tail = (p95(before), p95(after))
    print(f"  Matcher.ask   median   {ms(mid[0])}  {ms(mid[1])}   ratio {mid[1] / mid[0]:6.3f}")
    print(f"  Matcher.ask   p95      {ms(tail[0])}  {ms(tail[1])}   ratio {tail[1] / tail[0]:6.3f}")
    add_mid, add_p95, add_max = statistics.median(adds), p95(adds), max(adds)
    print(f"  Matcher.teach median   {ms(add_mid)}   p95 {ms(add_p95)}   max {ms(add_max)}")
    return p95(after), max(adds)


def startup_goals(figures: dict[str, tuple[float, float]], n: int) -> list[tuple[str, bool]]:
    """Issue 16's goals at `n` stories, each with its figure and the ratio against the cold
    start (no cache) measured in the same run."""
    cold = figures["ask cold"][0]

    def goal(label: str, key: str, limit: float) -> tuple[str, bool]:
        wall = figures[key][0]
        return (
            f"{label} < {limit:g} s at {n}: {wall:.2f} s, {wall / cold:.3f} of the cold start",
            wall < limit,
        )

    return [
        goal("first start, no cache", "ask cold", 15.0),
        goal("start after editing one story", "ask edited", 3.0),
        goal("start with a full cache", "ask warm", 2.0),
        goal("check with a full cache", "check warm", 10.0),
    ]


def startup_only(size: int, question: str, runs: int = 1) -> int:
    """The start-up figures of a generated base of `size` stories, without the latency runs.
    With several `runs` (each from empty data directories) the goals are judged on each
    figure's median: on a shared machine one run can be a quarter off either way."""
    real = load_real_base()
    with tempfile.TemporaryDirectory(prefix="kisah-bench-kb-") as tmp:
        responses = write_synthetic_base(real, size, Path(tmp))
        all_runs = [
            fresh_figures(
                f"synthetic base, run {n + 1} of {runs}",
                responses,
                Path(tmp) / "seeds",
                question,
                True,
            )
            for n in range(runs)
        ]
    figures = {
        label: (
            statistics.median(run[label][0] for run in all_runs),
            statistics.median(run[label][1] for run in all_runs),
        )
        for label in all_runs[0]
    }
    if runs > 1:
        print(f"\nmedian of {runs} runs (fastest in brackets):")
        for label, (wall, rss) in figures.items():
            fastest = min(run[label][0] for run in all_runs)
            print(
                f"  {label:<10}  {wall * 1000:9.0f} ms  ({fastest * 1000:.0f})"
                f"  peak RSS {rss:6.1f} MB"
            )
    print("\ngoals:")
    for label, ok in startup_goals(figures, size):
        print(f"  [{'ok' if ok else 'MISSED'}] {label}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS)
    parser.add_argument("--synthetic", type=int, default=5000, help="stories to generate")
    parser.add_argument("--repeat", type=int, default=5, help="passes over the questions")
    parser.add_argument("--taught", type=int, default=1000, help="taught phrasings to add")
    parser.add_argument(
        "--startup",
        action="store_true",
        help="only the start-up and `check` figures of the generated base (issue 16's goals)",
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=1,
        help="with --startup: this many runs, the goals judged on each figure's median",
    )
    args = parser.parse_args(argv)

    questions = load_questions(args.questions)
    if args.startup:
        return startup_only(args.synthetic, questions[0], max(1, args.runs))
    real_fresh = fresh_figures("real base", PROJECT / "responses", PROJECT / "seeds", questions[0])
    real = load_real_base()
    _, real_p95, _ = report("real base", real, questions, args.repeat)
    taught_p95, teach_max = report_taught(real, questions, args.repeat, args.taught)

    with tempfile.TemporaryDirectory(prefix="kisah-bench-kb-") as tmp:
        started = time.perf_counter()
        responses = write_synthetic_base(real, args.synthetic, Path(tmp))
        print(f"\nwrote {args.synthetic} story files in {time.perf_counter() - started:.1f} s")
        syn_fresh = fresh_figures(
            "synthetic base", responses, Path(tmp) / "seeds", questions[0], edit=True
        )
        started = time.perf_counter()
        synthetic = load_knowledge(responses, Path(tmp) / "seeds")
        print(f"\nsynthetic base: load_knowledge in-process {time.perf_counter() - started:.2f} s")
        _, synthetic_p95, _ = report(
            "synthetic base", synthetic, questions, max(1, args.repeat // 2)
        )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nthis process's peak RSS (with the synthetic base): {rss:.1f} MB")

    n = args.synthetic
    goals = [
        ("p95 < 20 ms on the real base", real_p95 < 0.020),
        (f"p95 < 20 ms with {args.taught} taught phrasings (issue 9)", taught_p95 < 0.020),
        ("adding a taught phrasing < 50 ms, slowest of all (issue 9)", teach_max < 0.050),
        ("start-up to first answer < 2 s (real base, warm)", real_fresh["ask warm"][0] < 2.0),
        ("RSS < 250 MB (real base)", real_fresh["ask warm"][1] < 250),
        (f"p95 < 20 ms at {n} stories (issue 8)", synthetic_p95 < 0.020),
        *startup_goals(syn_fresh, n),
    ]
    print("\ngoals:")
    for label, ok in goals:
        print(f"  [{'ok' if ok else 'MISSED'}] {label}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
