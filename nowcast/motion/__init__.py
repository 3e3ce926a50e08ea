"""Motion of rain fields: estimated from a sequence and applied by advection, in torch.

- :mod:`nowcast.motion.estimate`: a smooth velocity field (pixels per time
  step) that carries each input frame onto the next.
- :mod:`nowcast.motion.advect`: semi-Lagrangian displacements along that
  field, and the change to and from the frame that moves with the rain.

Both run on the model's device and need nothing beyond torch, so a model can
work in the moving (Lagrangian) frame on a CPU, a GPU and inside training.
The pySTEPS extrapolation baseline (:mod:`nowcast.verification.baselines`)
stays pySTEPS' own, so the comparison is against an independent method.
"""

from nowcast.motion.advect import displacements, from_lagrangian, to_lagrangian, warp
from nowcast.motion.estimate import estimate_motion

__all__ = ["displacements", "estimate_motion", "from_lagrangian", "to_lagrangian", "warp"]
