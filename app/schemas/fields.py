"""Field types shared by the plan file, the records file and the request bodies."""

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, StringConstraints

from app.models.indicator import PERIOD_LENGTH
from app.models.plan import CODE_LENGTH, TITLE_LENGTH

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._\-]*$"
PERIOD_PATTERN = re.compile(r"^\d{4}(-Q[1-4]|-(0[1-9]|1[0-2]))?$|^mandate$")


def period_text(value: Any) -> Any:
    # YAML reads `period: 2020` as a number; a period is a label.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


Code = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=CODE_LENGTH,
                      pattern=CODE_PATTERN),
]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                         max_length=TITLE_LENGTH)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1,
                                       max_length=CODE_LENGTH, pattern=CODE_PATTERN)]
Period = Annotated[
    str,
    BeforeValidator(period_text),
    StringConstraints(max_length=PERIOD_LENGTH, pattern=PERIOD_PATTERN.pattern),
]
