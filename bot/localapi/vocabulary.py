"""Which detector labels count as a class name a user asked for.

Class names are matched case-insensitively, with ``_``/``-`` read as spaces and simple English plurals
accepted ("Cats", "coffee_cups", "boxes", "puppies"). A name that is not in the table is not supported
(``labels_for`` returns ``None``), so nobody reads "not supported" as "not there".

| class name asked for                                              | detector labels that count   |
|-------------------------------------------------------------------|------------------------------|
| person, people, human, man, men, woman, women, child, children,   | person, face                 |
| kid, boy, girl, adult, pedestrian                                 |                              |
| face                                                              | face                         |
| cat, kitten, kitty                                                | cat                          |
| dog, puppy, hound                                                 | dog                          |
| pet                                                               | cat, dog                     |
| animal                                                            | cat, dog, cattle             |
| cattle, cow, bull, ox, oxen                                       | cattle                       |
| car, automobile                                                   | car                          |
| vehicle                                                           | car, vehicle, bicycle        |
| bicycle, bike, cycle                                              | bicycle                      |
| stationary bicycle, exercise bike                                 | stationary bicycle           |
| coffee cup, cup, mug, coffee mug, coffee, teacup, tea cup         | coffee cup, mug              |
| bottle                                                            | bottle                       |
| laptop                                                            | laptop                       |
| computer                                                          | laptop, computer monitor     |
| computer monitor, monitor, screen, display                        | computer monitor             |
| computer mouse                                                    | computer mouse               |
| chair                                                             | chair                        |
| table                                                             | table, desk                  |
| desk                                                              | desk                         |
| furniture                                                         | chair, table, desk           |
| footwear, shoe                                                    | footwear, boot, high heels   |
| boot                                                              | boot                         |
| high heels, high heel, heels                                      | high heels                   |
| box, carton, package, parcel                                      | box                          |
| book                                                              | book                         |
| camera                                                            | camera                       |

Why some entries look the way they do:
- "person" also counts a face: the body detector often misses a close-up portrait that the face model
  finds.
- The object model tells "Coffee cup" and "Mug" apart unreliably, so either answers a request for
  a cup or a mug.
- "vehicle" is also one of the model's own labels; it covers vehicles it has no class for (a bus
  scored "vehicle"). There are no truck, bus, motorcycle, horse or bird classes, so those words
  are not supported rather than mapped to something close.
- "mouse" alone is left out: the model only knows computer mice, and "is there a mouse?" about an
  animal must not come back as a computer mouse.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

_PERSON = frozenset({"person", "face"})
_CUP = frozenset({"coffee cup", "mug"})


def _each(names: str, labels: frozenset[str]) -> dict[str, frozenset[str]]:
    return dict.fromkeys(names.split(","), labels)


SYNONYMS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        **_each(
            "person,people,human,man,men,woman,women,child,children,kid,boy,girl,adult,pedestrian",
            _PERSON,
        ),
        "face": frozenset({"face"}),
        **_each("cat,kitten,kitty", frozenset({"cat"})),
        **_each("dog,puppy,hound", frozenset({"dog"})),
        "pet": frozenset({"cat", "dog"}),
        "animal": frozenset({"cat", "dog", "cattle"}),
        **_each("cattle,cow,bull,ox,oxen", frozenset({"cattle"})),
        **_each("car,automobile", frozenset({"car"})),
        "vehicle": frozenset({"car", "vehicle", "bicycle"}),
        **_each("bicycle,bike,cycle", frozenset({"bicycle"})),
        **_each("stationary bicycle,exercise bike", frozenset({"stationary bicycle"})),
        **_each("coffee cup,cup,mug,coffee mug,coffee,teacup,tea cup", _CUP),
        "bottle": frozenset({"bottle"}),
        "laptop": frozenset({"laptop"}),
        "computer": frozenset({"laptop", "computer monitor"}),
        **_each("computer monitor,monitor,screen,display", frozenset({"computer monitor"})),
        "computer mouse": frozenset({"computer mouse"}),
        "chair": frozenset({"chair"}),
        "table": frozenset({"table", "desk"}),
        "desk": frozenset({"desk"}),
        "furniture": frozenset({"chair", "table", "desk"}),
        **_each("footwear,shoe", frozenset({"footwear", "boot", "high heels"})),
        "boot": frozenset({"boot"}),
        **_each("high heels,high heel,heels", frozenset({"high heels"})),
        **_each("box,carton,package,parcel", frozenset({"box"})),
        "book": frozenset({"book"}),
        "camera": frozenset({"camera"}),
    }
)


def labels_for(class_name: str) -> frozenset[str] | None:
    """The detector labels that count as ``class_name``; ``None`` if the detector cannot see it."""
    name = re.sub(r"[\s_-]+", " ", class_name).strip().lower()
    for candidate in (name, *_singulars(name)):
        if candidate in SYNONYMS:
            return SYNONYMS[candidate]
    return None


def _singulars(name: str) -> list[str]:
    """Possible singulars of a simple English plural: puppies -> puppy, boxes -> box, cats -> cat."""
    if name.endswith("ies"):
        return [name[:-3] + "y"]
    if name.endswith("es"):
        return [name[:-1], name[:-2]]
    if name.endswith("s"):
        return [name[:-1]]
    return []
