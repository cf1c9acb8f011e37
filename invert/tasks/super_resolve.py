"""Super-resolution by an integer factor, of a low-resolution photo or of a downscaled clean one."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import SettingError
from ..defaults import SR_KERNELS
from .base import RestorationTask, setting
from .registry import register


@register
@dataclass(frozen=True)
class SuperResolve(RestorationTask):
    name = "sr"
    summary = "upscale by an integer factor"
    default_prior = "dip"
    synthesized_by = "from_hr"
    sample = {"factor": 4}
    from_clean = {"from_hr": True}

    factor: int | None = setting(help="upscaling factor (e.g. 4 or 8)", kind=int, least=2)
    from_hr: bool = setting(False, help="IMAGE is the high-resolution reference: downscale it first", kind=bool)
    kernel: str = setting("lanczos2", help="downsampling operator of the SR energy", choices=SR_KERNELS)

    def sample_crop(self, crop: int) -> int:
        """The sample photo's crop rounded down to a multiple of the factor, which must divide it."""
        return crop - crop % self.factor if crop >= self.factor else crop

    def check(self) -> None:
        if self.factor is None:
            raise SettingError("factor", "is needed: the upscaling factor (e.g. 4)")

    def problem(self, image, seed=0, source=None):
        from ..restoration import super_resolve

        return super_resolve(image, self.factor, self.from_hr, self.kernel)
