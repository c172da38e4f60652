"""The built-in `sample` benchmark: small, deterministic, with known answers, generated on the fly.

It exercises every path a real benchmark does — text and image questions, multiple choice and
numbers — without any download: arithmetic, counting shapes drawn with PIL, and reading a bar chart.
The same code always yields the same items (a fixed-seed random generator; PIL drawing is exact).
"""

from __future__ import annotations

import random

from PIL import Image, ImageDraw

from harness.types import Sample

COLORS = {"red": (220, 40, 40), "blue": (40, 80, 220), "green": (40, 170, 60)}


def _arithmetic(rng: random.Random, index: int) -> Sample:
    a, b = rng.randint(2, 30), rng.randint(2, 30)
    op = rng.choice(["+", "-", "*"])
    value = {"+": a + b, "-": a - b, "*": a * b}[op]
    return Sample(id=f"arith-{index:03d}", question=f"What is {a} {op} {b}?", answer=str(value),
                  answer_type="number", subject="arithmetic")


def _arithmetic_mcq(rng: random.Random, index: int) -> Sample:
    a, b = rng.randint(2, 12), rng.randint(2, 12)
    value = a * b
    wrong = set()
    while len(wrong) < 3:
        candidate = value + rng.choice([-1, 1]) * rng.randint(1, 10)
        if candidate != value and candidate > 0:
            wrong.add(candidate)
    options = sorted(wrong | {value})
    rng.shuffle(options)
    choices = {letter: str(option) for letter, option in zip("ABCD", options)}
    answer = next(letter for letter, text in choices.items() if text == str(value))
    return Sample(id=f"mcq-{index:03d}", question=f"Which number equals {a} times {b}?", answer=answer,
                  answer_type="mcq", choices=choices, subject="arithmetic")


def _shapes(rng: random.Random, index: int) -> Sample:
    image = Image.new("RGB", (224, 224), "white")
    draw = ImageDraw.Draw(image)
    counts = {color: 0 for color in COLORS}
    cells = [(x, y) for x in range(4) for y in range(4)]
    rng.shuffle(cells)
    for x, y in cells[: rng.randint(3, 9)]:
        color = rng.choice(list(COLORS))
        counts[color] += 1
        box = (x * 56 + 8, y * 56 + 8, x * 56 + 48, y * 56 + 48)
        if rng.random() < 0.5:
            draw.ellipse(box, fill=COLORS[color])
        else:
            draw.rectangle(box, fill=COLORS[color])
    target = rng.choice(sorted(color for color, count in counts.items() if count))
    return Sample(id=f"shapes-{index:03d}", question=f"How many {target} shapes are in the image?",
                  answer=str(counts[target]), answer_type="number", images=[image], subject="counting")


def _bar_chart(rng: random.Random, index: int) -> Sample:
    labels = ["A", "B", "C", "D"]
    values = [rng.randint(1, 9) for _ in labels]
    image = Image.new("RGB", (224, 224), "white")
    draw = ImageDraw.Draw(image)
    draw.line((20, 200, 210, 200), fill="black", width=2)
    for k, (label, value) in enumerate(zip(labels, values)):
        left = 30 + k * 45
        draw.rectangle((left, 200 - value * 20, left + 30, 200), fill=(70, 110, 200))
        draw.text((left + 10, 205), label, fill="black")
        draw.text((left + 10, 200 - value * 20 - 12), str(value), fill="black")
    tallest = labels[values.index(max(values))]
    if values.count(max(values)) == 1 and index % 2 == 0:
        return Sample(id=f"chart-{index:03d}", question="Which bar in the chart is the tallest?",
                      answer=tallest, answer_type="mcq", choices={l: f"bar {l}" for l in labels},
                      images=[image], subject="charts")
    target = rng.choice(labels)
    return Sample(id=f"chart-{index:03d}", question=f"What is the value of bar {target} in the chart?",
                  answer=str(values[labels.index(target)]), answer_type="number", images=[image],
                  subject="charts")


def generate(n_per_kind: int = 10, seed: int = 1234) -> list[Sample]:
    """10 items of each kind by default: 40 items, half of them with an image."""
    rng = random.Random(seed)
    samples: list[Sample] = []
    for index in range(n_per_kind):
        samples.append(_arithmetic(rng, index))
        samples.append(_arithmetic_mcq(rng, index))
        samples.append(_shapes(rng, index))
        samples.append(_bar_chart(rng, index))
    return samples
