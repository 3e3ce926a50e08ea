"""CF vocabulary in one place: names, units, attributes and encodings.

Readers and writers use these constants instead of string literals, so the
vocabulary of the file layout (docs/data-formats.md, "Layout rules") lives here
and nowhere else.
"""

from __future__ import annotations

import numpy as np

CONVENTIONS = "CF-1.11"
TIME_UNITS = "seconds since 1970-01-01 00:00:00"
CALENDAR = "standard"
FILL_VALUE = np.float32(-9999.0)
PACKED_FILL_VALUE = np.int16(-32768)
PACKED_SCALE = np.float32(0.01)

RAIN = "rainfall_rate"
INTENSITY = "intensity"

#: Attributes of the canonical data variables, by variable name.
VARIABLE_ATTRS: dict[str, dict[str, object]] = {
    RAIN: {
        "standard_name": "rainfall_rate",
        "long_name": "Rainfall rate",
        "units": "mm h-1",
    },
    INTENSITY: {
        "long_name": "normalised pixel intensity",
        "units": "1",
    },
}

#: Units of each canonical variable, as written in the file.
VARIABLE_UNITS = {name: str(attrs["units"]) for name, attrs in VARIABLE_ATTRS.items()}

TIME_ATTRS = {
    "standard_name": "time",
    "axis": "T",
    "units": TIME_UNITS,
    "calendar": CALENDAR,
    "units_metadata": "leap_seconds: none",
}

PROJECTED_X_ATTRS = {
    "standard_name": "projection_x_coordinate",
    "long_name": "x coordinate of projection",
    "units": "m",
    "axis": "X",
}
PROJECTED_Y_ATTRS = {
    "standard_name": "projection_y_coordinate",
    "long_name": "y coordinate of projection",
    "units": "m",
    "axis": "Y",
}
# Pixel grids (Moving MNIST): no standard_name and no axis, or the CF checker
# mistakes them for lat/lon (docs/data-formats.md, "Layout rules").
PIXEL_X_ATTRS = {"long_name": "pixel index along x", "units": "1"}
PIXEL_Y_ATTRS = {"long_name": "pixel index along y", "units": "1"}

LAT_ATTRS = {"standard_name": "latitude", "long_name": "latitude", "units": "degrees_north"}
LON_ATTRS = {"standard_name": "longitude", "long_name": "longitude", "units": "degrees_east"}

#: Standard names a CF reader accepts, mapped to how the field becomes mm/h.
RATE_STANDARD_NAMES = ("rainfall_rate", "lwe_precipitation_rate")
AMOUNT_STANDARD_NAMES = (
    "precipitation_amount",
    "thickness_of_rainfall_amount",
    "lwe_thickness_of_precipitation_amount",
    "rainfall_amount",
)
REFLECTIVITY_STANDARD_NAMES = ("equivalent_reflectivity_factor",)
#: Variable names accepted when no standard_name matches (pysteps' exporter).
FALLBACK_RATE_NAMES = ("precip_intensity", "rainfall_rate")

# Ensemble forecasts (IMPROVER conventions, docs/forecast.md "Ensemble forecasts").
REALIZATION = "realization"
REALIZATION_ATTRS = {"standard_name": REALIZATION, "units": "1"}
THRESHOLD = "threshold"
#: How a probability relates to its threshold: P(value >= threshold).
RELATIVE_TO_THRESHOLD = "greater_than_or_equal_to"
#: Suffix of the deterministic companion of an ensemble's member variable.
DETERMINISTIC_SUFFIX = "_deterministic"


def probability_name(variable: str) -> str:
    """Name of the exceedance-probability variable of ``variable`` (IMPROVER style)."""
    return f"probability_of_{variable}_above_threshold"
