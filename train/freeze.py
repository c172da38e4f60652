"""Freeze groups: which of vision tower, connector and language model a stage trains.

The report's findings hinge on this switch (§5.2: freezing the connector in RL collapses training;
§5.6: connector-only tuning after RL helps, tuning the LLM or ViT with it hurts), so it is one small,
tested function rather than a flag scattered through the loop. Parameters are assigned to a group by
module-name patterns of the families in use; the connector is matched first because Qwen2.5-VL's
connector (`visual.merger`) lives inside its vision tower (`visual`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from train.errors import SetupError

GROUPS = ("vision", "connector", "llm")

# Dotted name fragments matched as whole components: Qwen2/2.5-VL, InternVL (remote code and HF-native),
# LLaVA-style (LLaVA, LLaVA-NeXT, HF InternVL, Gemma3, ...).
CONNECTOR_PATTERNS = ("visual.merger", "mlp1", "multi_modal_projector")
VISION_PATTERNS = ("visual", "vision_model", "vision_tower")


@dataclass
class FreezeConfig:
    """Which groups receive gradients. The paper trains everything in RL (§3.3)."""

    train_vision: bool = True
    train_connector: bool = True
    train_llm: bool = True

    def trains(self, group: str) -> bool:
        return {"vision": self.train_vision, "connector": self.train_connector, "llm": self.train_llm}[group]


@dataclass
class FreezeReport:
    """Parameter counts per group after freezing, for the log and for a sanity check by eye."""

    trainable: dict[str, int] = field(default_factory=lambda: dict.fromkeys(GROUPS, 0))
    frozen: dict[str, int] = field(default_factory=lambda: dict.fromkeys(GROUPS, 0))


def _contains_components(name: str, pattern: str) -> bool:
    parts, wanted = name.split("."), pattern.split(".")
    return any(parts[i : i + len(wanted)] == wanted for i in range(len(parts) - len(wanted) + 1))


def parameter_group(name: str) -> str:
    """The group a parameter belongs to, from its fully qualified name."""
    if any(_contains_components(name, p) for p in CONNECTOR_PATTERNS):
        return "connector"
    if any(_contains_components(name, p) for p in VISION_PATTERNS):
        return "vision"
    return "llm"


def apply_freeze(model: torch.nn.Module, config: FreezeConfig) -> FreezeReport:
    """Set `requires_grad` on every parameter by its group; refuse a config that trains nothing.

    Asking to train a group the model does not have (a connector on a text-only model) is an error,
    because a connector-only stage would otherwise silently train nothing.
    """
    report = FreezeReport()
    for name, parameter in model.named_parameters():
        group = parameter_group(name)
        trainable = config.trains(group)
        parameter.requires_grad_(trainable)
        (report.trainable if trainable else report.frozen)[group] += parameter.numel()
    present = {g for g in GROUPS if report.trainable[g] + report.frozen[g] > 0}
    missing = [g for g in GROUPS if config.trains(g) and g not in present]
    if missing and not any(report.trainable.values()):
        raise SetupError(
            f"freeze config trains only {missing}, which this model ({type(model).__name__}) does not have; "
            f"its groups are {sorted(present)}: set {' or '.join(f'freeze.train_{g}=true' for g in sorted(present))}"
        )
    if not any(report.trainable.values()):
        raise SetupError("freeze config freezes every parameter: nothing would be trained; "
                         "set one of freeze.train_vision, freeze.train_connector, freeze.train_llm to true")
    return report


def trainable_parameters(model: torch.nn.Module) -> list[torch.nn.Parameter]:
    """Only these reach the optimizer, so frozen weights are untouched even by weight decay."""
    return [p for p in model.parameters() if p.requires_grad]
