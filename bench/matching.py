"""Matching benchmark: latency, index build, start-up and memory, real and synthetic bases.

Run: `.venv/bin/python bench/matching.py [--questions FILE] [--synthetic N] [--repeat R]`

Measures, in-process (the same code the bot runs):
- per-question latency (median, p95) of `Matcher.ask` on the real knowledge base and on a
  generated base of N anecdotes (default 5,000) whose triggers are random sentences over the
  real vocabulary plus invented words, so the vocabulary grows as a real base would;
- index build time for both;
- start-up to first answer in a fresh interpreter (import, load YAML, build, answer once);
- resident memory (ru_maxrss) of that fresh interpreter, and of this process at the end;
- a baseline: plain `rapidfuzz.process.extractOne` (WRatio, default_process) over all trigger
  strings, the obvious one-liner, with the ratio of our median to its median.
Goals (issue 7): on the real base p95 < 20 ms per question (long situations included),
start-up to first answer < 2 s, RSS < 250 MB; (issue 8) p95 < 20 ms at 5,000 anecdotes.
No semantic signal is measured side by side: it was not adopted (README, "Quality").
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Sequence
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from rapidfuzz import fuzz, process, utils  # noqa: E402

from bot.knowledge import Anecdote, KnowledgeBase, Text, load_anecdote  # noqa: E402
from bot.matcher import Matcher  # noqa: E402
from bot.normalize import get_normalizer  # noqa: E402

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


def load_real_base() -> KnowledgeBase:
    """The anecdotes of responses/ (UI texts are not needed to match)."""
    seeds = PROJECT / "seeds"
    files = sorted((PROJECT / "responses" / "anecdotes").glob("*.yaml"))
    anecdotes = tuple(load_anecdote(path, seeds) for path in files)
    return KnowledgeBase(anecdotes=anecdotes, ui={}, seeds_dir=seeds)


def load_questions(path: Path) -> list[str]:
    if path.is_file():
        import yaml

        data = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        questions = [item["q"] for item in data if isinstance(item, dict) and "q" in item]
        if questions:
            return questions
    return list(FALLBACK_QUESTIONS)


def synthetic_base(real: KnowledgeBase, size: int, seed: int = 7) -> KnowledgeBase:
    """`size` anecdotes of random sentences: real words mixed with invented ones."""
    rng = random.Random(seed)
    normalizer = get_normalizer()
    real_words = sorted(
        {
            word
            for anecdote in real.anecdotes
            for lang in ("id", "en")
            for text in anecdote.triggers[lang]
            for word in normalizer.split(text)
        }
    )
    syllables = ["ka", "ri", "mu", "ten", "sa", "po", "lan", "gi", "du", "ber", "ma", "ngu"]
    invented = sorted(
        {"".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))) for _ in range(20_000)}
    )
    vocabulary = real_words + invented

    def sentence() -> str:
        return " ".join(rng.choice(vocabulary) for _ in range(rng.randint(5, 11)))

    anecdotes = []
    for i in range(size):
        anecdotes.append(
            Anecdote(
                id=f"syn-{i}",
                seed="000_synthetic.txt",
                title=Text(sentence(), sentence()),
                story=Text("", ""),
                lessons=tuple(Text(sentence(), sentence()) for _ in range(3)),
                triggers={
                    "id": tuple(sentence() for _ in range(30)),
                    "en": tuple(sentence() for _ in range(15)),
                },
                tags={"id": (sentence(),), "en": (sentence(),)},
                tips=(),
                source=Path(f"syn-{i}.yaml"),
            )
        )
    return KnowledgeBase(anecdotes=tuple(anecdotes), ui={}, seeds_dir=real.seeds_dir)


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
    choices = [t for a in kb.anecdotes for lang in ("id", "en") for t in a.triggers[lang]]

    def ask(question: str) -> object:
        return process.extractOne(
            question, choices, scorer=fuzz.WRatio, processor=utils.default_process
        )

    return ask


def fresh_startup(question: str) -> tuple[float, float]:
    """(seconds from interpreter start to first answer, ru_maxrss MB) in a new process."""
    code = textwrap.dedent(
        f"""
        import time; t0 = time.perf_counter()
        import resource, sys
        sys.path.insert(0, {str(PROJECT)!r})
        from pathlib import Path
        from bot.knowledge import load_knowledge
        from bot.matcher import Matcher
        kb = load_knowledge(Path({str(PROJECT / "responses")!r}), Path({str(PROJECT / "seeds")!r}))
        Matcher(kb).ask({question!r})
        t1 = time.perf_counter()
        print(t1 - t0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        """
    )
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    wall = time.perf_counter() - start
    return wall, float(out[1])


def report(
    name: str, kb: KnowledgeBase, questions: Sequence[str], repeat: int
) -> tuple[float, float, float]:
    start = time.perf_counter()
    matcher = Matcher(kb)
    build = time.perf_counter() - start
    ours = timings(matcher.ask, questions, repeat)
    base = timings(baseline(kb), questions, max(1, repeat // 2))
    triggers = sum(len(a.triggers["id"]) + len(a.triggers["en"]) for a in kb.anecdotes)
    print(f"\n{name}: {len(kb.anecdotes)} anecdotes, {triggers} triggers, {len(questions)} q")
    print(f"  index build            {ms(build)}")
    print(f"  Matcher.ask   median   {ms(statistics.median(ours))}   p95 {ms(p95(ours))}")
    print(f"  extractOne    median   {ms(statistics.median(base))}   p95 {ms(p95(base))}")
    ratio = statistics.median(ours) / statistics.median(base)
    speed = f"{1 / ratio:.1f}x faster" if ratio < 1 else f"{ratio:.1f}x slower"
    print(f"  ratio ours/extractOne  {ratio:8.3f}  (median; ours is {speed})")
    return statistics.median(ours), p95(ours), build


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS)
    parser.add_argument("--synthetic", type=int, default=5000, help="anecdotes to generate")
    parser.add_argument("--repeat", type=int, default=5, help="passes over the questions")
    args = parser.parse_args(argv)

    questions = load_questions(args.questions)
    wall, startup_rss = fresh_startup(questions[0])
    print(f"start-up to first answer (fresh interpreter, incl. imports): {wall * 1000:.0f} ms")
    print(f"resident memory of that process (ru_maxrss):                {startup_rss:.1f} MB")

    real = load_real_base()
    _, real_p95, _ = report("real base", real, questions, args.repeat)
    synthetic = synthetic_base(real, args.synthetic)
    _, synthetic_p95, _ = report("synthetic base", synthetic, questions, max(1, args.repeat // 2))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nthis process's peak RSS (with the synthetic base): {rss:.1f} MB")

    goals = [
        ("p95 < 20 ms on the real base", real_p95 < 0.020),
        ("start-up to first answer < 2 s", wall < 2.0),
        ("RSS < 250 MB (real base)", startup_rss < 250),
        (f"p95 < 20 ms at {args.synthetic} anecdotes (issue 8)", synthetic_p95 < 0.020),
    ]
    print("\ngoals:")
    for label, ok in goals:
        print(f"  [{'ok' if ok else 'MISSED'}] {label}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
