"""The label space of an extension: which labels the base has, which the new data adds, and what they are called.

Old labels keep their ids and names. A base whose labels are the data classes of its data set (a conditional
``train`` run) learns new classes of that data set under their own class ids (the embedding table already has a
row for each); anything else (another data set, a folder, ``--as-class``) gets ids appended after the last one.
An unconditional base is converted: label 0 is the base's whole distribution, new labels follow.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from gantransfer.data.base import Dataset
from gantransfer.errors import ConfigError
from gantransfer.models.config import ExtensionRecord, GeneratorConfig, LabelOrigin

BASE_LABEL = "base"


def base_origins(cfg: GeneratorConfig) -> tuple[list[LabelOrigin], bool]:
    """The labels a base generator has learned, and whether it must be converted (it is unconditional)."""
    if cfg.extension is not None:
        return [dataclasses.replace(o) for o in cfg.extension.labels], False
    if cfg.num_classes == 0:
        return [LabelOrigin(0, BASE_LABEL, cfg.dataset, cfg.trained_classes, 0)], True
    if not cfg.labels_are_data_classes:
        names = cfg.class_names
        return [LabelOrigin(k, names[k] if k < len(names) else str(k), cfg.dataset, cfg.data_classes, 0)
                for k in range(cfg.num_classes)], False
    labels = cfg.trained_classes if cfg.trained_classes is not None else list(range(cfg.num_classes))
    names = cfg.class_names
    return [LabelOrigin(c, names[c] if c < len(names) else str(c), cfg.dataset, [c], 0) for c in labels], False


@dataclass
class LabelPlan:
    """The extended generator's labels, and how the new data's classes map onto them."""

    config: GeneratorConfig                   # the extended generator's config
    old_labels: list[int]
    new_labels: list[int]
    new_map: dict[int, int]                   # new data class -> label (every class maps to one label)
    converted: bool                           # the base was unconditional
    notes: list[str] = field(default_factory=list)

    def origin(self, label: int) -> LabelOrigin:
        return next(o for o in self.config.extension.labels if o.label == label)


def plan_labels(base: GeneratorConfig, base_path: str, data_name: str, data: Dataset, as_class: str | None,
                step_info: dict) -> LabelPlan:
    """The grown label space for learning ``data`` (already restricted to the requested classes) on ``base``.
    ConfigError naming the labels when new ones clash with old ones."""
    origins, converted = base_origins(base)
    record = base.extension
    step = (len(record.steps) if record is not None else 0) + 1
    present = sorted(set(int(c) for c in data.y.tolist()))
    if as_class is not None:
        wanted = [(as_class.strip(), present)]
    else:
        wanted = [(data.class_names[c] if c < len(data.class_names) else str(c), [c]) for c in present]
    # clashes: the same data of the same data set learned again, or a name taken by another label
    clashes = []
    for name, classes in wanted:
        for o in origins:
            if o.dataset == data_name and (o.classes is None or set(o.classes) & set(classes)):
                both = classes if o.classes is None else sorted(set(o.classes) & set(classes))
                clashes.append(f"class(es) {both} of {data_name} are already label {o.label} {o.name!r} "
                               f"(learned at step {o.step})")
            elif o.name.lower() == name.lower():
                clashes.append(f"new label {name!r} has the name of label {o.label} {o.name!r} (learned at step "
                               f"{o.step} from {o.dataset})")
    if clashes:
        raise ConfigError("new labels clash with old ones: " + "; ".join(clashes) + ". Drop those classes from "
                          "--classes (or give --as-class another name)")
    identity = not converted and all(o.dataset == base.dataset and o.classes == [o.label] for o in origins)
    next_id = 1 if converted else max([base.num_classes - 1, *(o.label for o in origins)]) + 1
    used = {o.label for o in origins}
    new_origins, new_map, new_labels = [], {}, []
    for name, classes in wanted:
        if identity and data_name == base.dataset and as_class is None and classes[0] < base.num_classes \
                and classes[0] not in used:
            label = classes[0]                # the data class's own row of the embedding table
        else:
            label, next_id = next_id, next_id + 1
        new_origins.append(LabelOrigin(label, name, data_name, None if as_class is not None and
                                       data.meta.get("classes") is None else classes, step))
        new_labels.append(label)
        for c in classes:
            new_map[c] = label
    all_origins = sorted(origins + new_origins, key=lambda o: o.label)
    num_classes = max(base.num_classes, max(o.label for o in all_origins) + 1)
    names = list(base.class_names) if not converted else [BASE_LABEL]
    names += [str(k) for k in range(len(names), num_classes)]
    for o in all_origins:
        names[o.label] = o.name
    names = names[:num_classes]
    ext = ExtensionRecord(base=record.base if record is not None else base_path, labels=all_origins,
                          steps=[*(record.steps if record is not None else []), step_info],
                          converted=converted or (record is not None and record.converted))
    datasets = {o.dataset for o in all_origins}
    data_classes = None
    if len(datasets) == 1 and all(o.classes is not None for o in all_origins):
        data_classes = sorted({c for o in all_origins for c in o.classes})
    cfg = dataclasses.replace(base, num_classes=num_classes, class_names=names,
                              trained_classes=[o.label for o in all_origins], data_classes=data_classes,
                              label_weights=None, fusion=None, extension=ext, latent_space=None, loss_networks=[],
                              meta={"base": base_path, "method": step_info.get("method")})
    notes = []
    if converted:
        notes.append(f"the base {base_path} is unconditional: converted to a conditional generator whose label 0 "
                     f"({BASE_LABEL!r}) is the base's whole distribution; the new labels are "
                     f"{', '.join(f'{k} {n!r}' for k, n in zip(new_labels, [w[0] for w in wanted]))}")
    return LabelPlan(cfg, [o.label for o in origins], new_labels, new_map, converted, notes)
