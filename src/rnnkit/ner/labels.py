"""The labels of a training or dev file for a task, and the mistakes they can show: a tag the
task lacks (with a hint when it looks like one of the task's), or no entity at all."""

from rnnkit.errors import DataError


def encode_labelled(sentences, path, task, featurizer):
    """Sentences read from `path` -> (xs [(T, K)], ys [(T,)]); a tag the task lacks names its
    line."""
    xs, ys = [], []
    for s in sentences:
        try:
            ys.append(task.labels(s.tags))
        except KeyError as e:
            tag = e.args[0]
            # the tag as the task read it: after --map, B-PER may have become B-PERSON
            line = s.line + task.gold_tags(s.tags).index(tag)
            like = _resembles(tag[2:], entity_types(task))
            hint = f" (did you mean {tag[:2]}{like}?)" if like else ""
            raise DataError(
                path, f"tag {tag} is not one of the {task.name} task's tags{hint}", line
            ) from None
        xs.append(featurizer.encode(s.tokens))
    return xs, ys


def entity_types(task):
    """The entity types the task learns: ("PER",) for per."""
    return tuple(dict.fromkeys(t[2:] for t in task.tags if t != "O"))


def check_labels(sentences, ys, path, task, log, required):
    """A file whose tags give the task no entity at all is a mistake (B-PERSON where the per
    task reads B-PER): an error if `required` (the training file), else a warning. Types that
    look like the task's but are read as O (B-Per) are named either way."""
    wanted = entity_types(task)
    # The tags as the task reads them (types renamed or dropped); per's view keeps only PER
    as_read = (s.tags if task.name == "per" else task.gold_tags(s.tags) for s in sentences)
    found = sorted({t[2:] for tags in as_read for t in tags if t != "O"})
    alike = {t: _resembles(t, wanted) for t in found if t not in wanted and _resembles(t, wanted)}
    hint = ""
    if alike:
        meant = ", ".join(dict.fromkeys(alike.values()))
        hint = (
            f"did you mean {meant}? the {task.name} task reads the file's {', '.join(alike)} as O"
        )
    if any(y.any() for y in ys):  # label 0 is O: anything else is part of an entity
        if alike:
            log(f"warning: {path}: {hint}")
        return
    problem = f"no token is tagged as {' or '.join(wanted)}, the {task.name} task's entities"
    if hint:
        problem += f" ({hint})"
    elif found:
        problem += f" (the file's types are {', '.join(found)})"
    if required:
        raise DataError(path, f"{problem}: there is nothing to learn")
    log(f"warning: {path}: {problem}: dev F1 is 0 every epoch and cannot choose the best model")


def _resembles(kind, wanted):
    """The type of `wanted` that `kind` looks like, by case or as a prefix (PERSON, Per: PER);
    None if none."""
    for w in wanted:
        a, b = kind.upper(), w.upper()
        if kind != w and (a == b or (min(len(a), len(b)) >= 3 and a.startswith(b))):
            return w
    return None
