"""What an ablation will run, fixed before any model loads: its options, checks, task, arms and file layout.

`plan()` validates everything a user can get wrong in one line; `ablation.json` holds the settings a
resumed run must match; `unit_dir`/`result_path`/`test_path` are where each unit's files live.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from qwthn.errors import QwthnError
from qwthn.methods.loading import parse_adapter_config
from qwthn.model.inject import inject_adapter
from qwthn_transformers.ablation.arms import (
    ARMS,
    FAMILY_OF_GROUP,
    MATCHED,
    QWTHN_DEMO,
    SMOKE_ARMS,
    Arm,
    matched_lora,
    select,
)
from qwthn_transformers.ablation.attach import adapter_for
from qwthn_transformers.ablation.inspired import FAMILY, INSPIRED, inspired_arms
from qwthn_transformers.ablation.peft_arms import METHODS, peft_arms
from qwthn_transformers.ablation.protocol import RateSearch
from qwthn_transformers.ablation.tasks import (
    HEAD_LEARNING_RATE,
    MATH_MODEL,
    CausalLMTask,
    ClassificationTask,
    demo_task,
    math_task,
)
from qwthn_transformers.embedded.base_model import BaseModelSpec
from qwthn_transformers.finetune import ensure_writable
from qwthn_transformers.loading import check_model_path, local_model_path

SETTINGS_NAME = "ablation.json"


TASKS = ("demo", "minilm", "smollm-math")


SMOKE_SPEC = BaseModelSpec(
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=1,
    num_attention_heads=2,
    num_key_value_heads=1,
    vocab_size=320,
    block_size=32,
    batch_size=4,
    steps=10,
    held_out=12,
    task_train=60,
)

PROTOCOL = 2
"""Version of the tuning protocol (protocol.py): results of another version are never mixed into a directory."""

RESUMABLE_CHANGES = frozenset({"seeds", "output", "arms"})
"""Settings a resumed ablation may change: more --seeds add units at the chosen rates (seed k is the same unit
whatever the count), fewer report the first ones; the search and every written unit stay valid. Other --arms
run the arms not yet run and report the ones asked for (each arm's units depend on that arm alone). The output
path itself: a run directory moved or copied (committed mid-run, carried to another machine) resumes where
it now is, since every file in it is found relative to it."""

SMOKE_SEARCH = RateSearch(points=3, decades=2.0, extensions=1)
"""The smoke run's grid: below the protocol's minimum, allowed only with --smoke (which checks the pipeline)."""


@dataclass
class AblationOptions:
    output: Path
    task: str = "demo"
    model: str | None = None
    dataset: Path | None = None
    arms: list[str] | None = None
    seeds: int = 3
    search: RateSearch | None = None
    """The rate search every arm gets (None: `RateSearch()`, or `SMOKE_SEARCH` with `smoke`)."""
    steps: int | None = None
    smoke: bool = False
    noise_sweep: bool = True
    ray: str | None = None
    """Ray address for the units (`local`, `auto`, `ray://host:10001`); None: one after another here."""

    @property
    def rate_search(self) -> RateSearch:
        return self.search or (SMOKE_SEARCH if self.smoke else RateSearch())

    def settings(self) -> dict:
        """What fixes the results: a resumed run must match it (where the units run does not)."""
        data = asdict(self)
        data["output"] = str(self.output)
        data["dataset"] = str(self.dataset) if self.dataset else None
        data["search"] = self.rate_search.as_dict()
        data["protocol"] = PROTOCOL
        data["head_learning_rate"] = HEAD_LEARNING_RATE if self.task == "minilm" else None
        data.pop("noise_sweep")
        data.pop("ray")
        return json.loads(json.dumps(data))  # as it reads back from ablation.json


@dataclass
class Plan:
    options: AblationOptions
    task: CausalLMTask | ClassificationTask
    arms: list[Arm]


def _check_options(options: AblationOptions) -> None:
    if options.task not in TASKS:
        raise QwthnError(f"unknown --task '{options.task}'; the tasks are: {', '.join(TASKS)}")
    if options.task == "minilm" and (options.model or options.dataset):
        raise QwthnError("--model and --dataset go with --task demo (a causal LM on prompt/response pairs)")
    if options.task == "smollm-math" and (options.dataset or options.smoke):
        raise QwthnError("--task smollm-math generates its own word problems on a real LLM; drop --dataset and --smoke")
    if options.smoke and options.model:
        raise QwthnError("--smoke runs its own tiny base model; drop --model, or drop --smoke")
    if options.seeds < 1:
        raise QwthnError(f"--seeds must be at least 1, got {options.seeds}")
    options.rate_search.check(smoke=options.smoke)
    if options.steps is not None and options.steps < 1:
        raise QwthnError(f"--steps must be at least 1, got {options.steps}")
    if options.dataset is not None and not options.dataset.is_file():
        raise QwthnError(f"dataset file {options.dataset} does not exist; pass a JSONL file of prompt/response lines")
    if options.ray is not None:
        from qwthn_transformers.ablation.ray_address import check_address

        check_address(options.ray)
    output = options.output
    if output.exists() and not output.is_dir():
        raise QwthnError(f"output {output} is a file; pass a directory for --output")
    settings_file = output / SETTINGS_NAME
    if output.is_dir() and any(output.iterdir()):
        if not settings_file.is_file():
            raise QwthnError(f"output {output} is not empty and holds no ablation; pass a new --output")
        saved = json.loads(settings_file.read_text(encoding="utf-8"))
        if saved.get("protocol") != PROTOCOL:
            raise QwthnError(
                f"output {output} holds an ablation made with an earlier tuning protocol (learning-rate multipliers, "
                "no divergence check); its results cannot be mixed with this one's: pass a new --output"
            )
        wanted = options.settings()
        changed = sorted(key for key in saved.keys() | wanted.keys()
                         if key not in RESUMABLE_CHANGES and saved.get(key) != wanted.get(key))  # fmt: skip
        if changed:
            raise QwthnError(
                f"output {output} holds an ablation with other settings ({', '.join(changed)}); rerun with "
                "the same options to resume, or pass a new --output"
            )
    ensure_writable(output, "--output")


MATCHED_NAMES = [f"lora-matched-{name}" for name in MATCHED]
SIZED = [*METHODS, *INSPIRED]
"""Arms sized to QWTHN's parameter count once the model is loaded (peft's field, the quantum-inspired peers)."""
PEER_FAMILY = {name: FAMILY_OF_GROUP[group] for name, group in FAMILY.items()}
FAMILIES: dict[str, list[str]] = {
    "classical": [arm.name for arm in ARMS if arm.family == "classical"] + MATCHED_NAMES + list(METHODS)
    + [name for name in INSPIRED if PEER_FAMILY[name] == "classical"],
    "quantum": [arm.name for arm in ARMS if arm.family == "quantum"]
    + [name for name in INSPIRED if PEER_FAMILY[name] == "quantum"],
    "quantum-inspired": [name for name in INSPIRED if PEER_FAMILY[name] == "quantum-inspired"],
    "peft": list(METHODS),
    "claims": ["lora-r4", "lora-matched-qwthn", "qwthn", "qtha", "qtha-dense-qnn", "qwthn-no-qnn", "qwthn-mlp"],
    "all": [arm.name for arm in ARMS] + MATCHED_NAMES + SIZED,
}
"""Names `--arms` accepts for a group of arms ('claims': what replaying the paper's claims needs on an expensive
model: LoRA r=4 and its size-matched twin, QWTHN, the authors' QTHA in both forms they ship (ABC, their default;
BC, which every published script of theirs runs) and QWTHN's no-QNN and classical-MLP controls).
Without --arms an ablation runs the paper's question: every arm
of ARMS and the matched LoRAs, not peft's field (`--arms all` adds it)."""


def expand_arms(requested: list[str]) -> list[str]:
    """Arm names and family names -> arm names, in the order given, each once; unknown names refused."""
    names: list[str] = []
    for name in requested:
        if name in FAMILIES:
            names += FAMILIES[name]
        elif name in FAMILIES["all"]:
            names.append(name)
        else:
            raise QwthnError(f"unknown arm {name!r}; the arms are: {', '.join(FAMILIES['all'])}; the families: "
                             f"{', '.join(FAMILIES)}")  # fmt: skip
    return list(dict.fromkeys(names))


def requested_arms(options: AblationOptions) -> list[str] | None:
    """The arm names this run asked for (None: the default set)."""
    if options.arms is not None:
        return expand_arms(options.arms)
    return list(SMOKE_ARMS) if options.smoke else None


def plan(options: AblationOptions) -> Plan:
    """Check everything before any model is loaded."""
    _check_options(options)
    names = requested_arms(options)
    static = [name for name in names if name not in MATCHED_NAMES and name not in SIZED] if names else None
    arms = select(list(ARMS), static)
    for arm in arms:
        parse_adapter_config(arm.adapter, source=f"arm {arm.name}")
    if options.task == "minilm":
        task = ClassificationTask(steps=options.steps or (6 if options.smoke else 300))
        task.splits()  # the labelled words: fails now, not after training, when the package is missing
        from qwthn_transformers.ablation.tasks import minilm_path

        minilm_path()
    elif options.smoke:
        task = CausalLMTask(
            "demo" if options.dataset is None else "dataset",
            f"tiny smoke model on {options.dataset or 'a few math word problems'}",
            steps=options.steps or 6,
            batch_size=8,
            spec=SMOKE_SPEC,
            max_length=64,
            dataset=options.dataset,
        )
    else:
        model = options.model or (MATH_MODEL if options.task == "smollm-math" else None)
        if model is not None:
            path = local_model_path(model)  # a directory, a GGUF file, `smollm2` or a hub id
            if path is not None:
                check_model_path(path)
        if options.task == "smollm-math":
            task = math_task(steps=options.steps, model=model)
        else:
            task = demo_task(steps=options.steps, model=options.model, dataset=options.dataset)
    return Plan(options, task, arms)


def lora_costs(task) -> list[tuple[str, int]]:
    """LoRA's default target modules on this task's model, in model order, with parameters per unit of rank."""
    model, _ = task.load()
    config = parse_adapter_config(adapter_for(task, {"method": "lora", "r": 1}))
    report = inject_adapter(model, config)
    modules = dict(model.named_modules())
    return [(name, modules[name].in_features + modules[name].out_features) for name in report.targets]


def add_matched_arms(plan_: Plan, requested: list[str] | None) -> list[str]:
    """Append `lora-matched-<arm>` for each matched arm run here; returns notes on size gaps (never a dropped row)."""
    notes = []
    wanted = [name for name in MATCHED if any(arm.name == name for arm in plan_.arms)]
    if requested is not None:
        wanted = [name for name in wanted if f"lora-matched-{name}" in requested]
    costs = lora_costs(plan_.task) if wanted else []
    for name in wanted:
        arm = next(arm for arm in plan_.arms if arm.name == name)
        model, _ = plan_.task.load()
        target = inject_adapter(model, parse_adapter_config(adapter_for(plan_.task, arm.adapter))).trainable_params
        matched = matched_lora(name, target, costs)
        if "size_gap" in matched.extra:
            notes.append(f"no LoRA comes within 5% of {name}'s {target:,} parameters on this model (its smallest "
                         f"target module alone has {min(cost for _, cost in costs):,} at rank 1); {matched.name} "
                         f"is the nearest, {matched.extra['size_gap']} in size")  # fmt: skip
        plan_.arms.append(matched)
    return notes


def qwthn_budget(task) -> int:
    """Trainable parameters of the default QWTHN arm on this task's model: the size peft's methods are matched to."""
    model, _ = task.load()
    return inject_adapter(model, parse_adapter_config(adapter_for(task, QWTHN_DEMO))).trainable_params


def add_sized_arms(plan_: Plan, requested: list[str] | None) -> list[str]:
    """Append the requested peft methods and quantum-inspired peers, each sized to QWTHN's parameter count;
    notes for the ones that cannot run."""
    wanted = [name for name in SIZED if requested is not None and name in requested]
    if not wanted:
        return []
    budget = qwthn_budget(plan_.task)
    model, _ = plan_.task.load()
    targets = adapter_for(plan_.task, {"target_modules": ["q_proj", "v_proj"]})["target_modules"]
    arms, notes = peft_arms(model, targets, budget, plan_.task.steps, [n for n in wanted if n in METHODS])
    plan_.arms.extend(arms)
    plan_.arms.extend(inspired_arms(model, targets, budget, wanted))
    return notes


def arm_listing(options: AblationOptions) -> tuple[list[dict], list[str]]:
    """Every arm this run would train (all of them without --arms) with its trainable parameters on the task's
    model, counted by attaching it to a copy; and the notes on arms that cannot be matched or applied."""
    import copy

    from qwthn_transformers.ablation.attach import attach

    plan_ = plan(AblationOptions(**{**options.__dict__, "arms": options.arms or ["all"]}))
    requested = requested_arms(plan_.options)
    notes = add_matched_arms(plan_, requested) + add_sized_arms(plan_, requested)
    model, _ = plan_.task.load()
    rows = []
    for arm in plan_.arms:
        params = None if arm.derived_from else attach(plan_.task, arm, copy.deepcopy(model), 0).trainable_params
        rows.append({"arm": arm.name, "family": arm.family, "trainable_params": params, "question": arm.question,
                     "derived_from": arm.derived_from})  # fmt: skip
    return rows, notes


def unit_dir(output: Path, arm: str, seed: int, lr: float) -> Path:
    return output / "runs" / arm / f"seed{seed}-lr{lr:g}"


def result_path(output: Path, arm: str, seed: int, lr: float) -> Path:
    """A unit's result, written last and atomically: its presence is what marks the unit done."""
    return unit_dir(output, arm, seed, lr) / "result.json"


def test_path(output: Path, arm: str, seed: int, lr: float) -> Path:
    """The test metric of a reported unit, written once the protocol has chosen it (never before)."""
    return unit_dir(output, arm, seed, lr) / "test.json"
