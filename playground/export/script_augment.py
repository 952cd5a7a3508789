"""The augmentation part of a standalone script: the transforms a run uses, per image, seeded by step.

The helpers (flip, the affine warp, jitter, erasing, the per-step seed) are playground/data/augment.py's
own functions, copied by source, so the script cannot drift from the engine; `augment()` is
Augment.pair with only the run's transforms written out, drawing its random numbers in the same order.
"""
from __future__ import annotations

import inspect
from string import Template

from playground.data import augment as A
from playground.export.script_data import RULE, constants
from playground.export.script_model import shape_text

# transform -> the helpers it calls, in the order they are written out
HELPERS = {"flip": [A.hflip], "crop": [A.crop_matrices], "shift": [A.shift_matrices],
           "rotate": [A.rotation_matrices], "jitter": [A.grey, A.adjust_brightness, A.adjust_contrast],
           "erase": [A.erase]}

DOC = '''
def augment(x, step, bounds):
    """(clean, input) versions of the training batch x $shape for step `step`: $what. Each image
    draws its own parameters from a generator seeded with (SEED, step), so a batch's images differ and
    a rerun draws the same ones.$split"""
    lo, hi = bounds                                     # the data's value range: results are clamped to it
    g = torch.Generator(x.device).manual_seed(step_seed(SEED, step))
    B, C, H, W = x.shape$uniform'''
UNIFORM = """
    u = lambda *shape: torch.rand(*shape, generator=g, device=x.device)    # noqa: E731 uniform [0, 1)"""

STEPS = {
    "flip": '''
    x = hflip(x, u(B) < FLIP)                           # mirrored with probability FLIP''',
    "geometric": '''
    m = torch.eye(3, device=x.device).expand(B, 3, 3)   # per image: output pixel -> input pixel''',
    "crop": '''
    area = (1 - CROP) + CROP * u(B)                     # share of the area kept
    log_r = math.log(CROP_RATIO[0]) + math.log(CROP_RATIO[1] / CROP_RATIO[0]) * u(B)
    w = torch.sqrt(area * H * W * torch.exp(log_r)).clamp(max=W)        # (B,) box size in pixels
    h = torch.sqrt(area * H * W / torch.exp(log_r)).clamp(max=H)
    cx, cy = (u(B) - 0.5) * (W - w), (u(B) - 0.5) * (H - h)            # box centre, from the image's
    m = m @ crop_matrices(cx, cy, w, h, H, W)''',
    "shift": '''
    tx = ((u(B) * 2 - 1) * SHIFT * W).round()           # whole pixels, as RandomAffine
    ty = ((u(B) * 2 - 1) * SHIFT * H).round()
    m = m @ shift_matrices(tx, ty)''',
    "rotate": '''
    m = m @ rotation_matrices((u(B) * 2 - 1) * ROTATE)''',
    "warp": '''
    x = warp(x, m)''',
    "jitter": '''
    lo_f = max(0.0, 1 - JITTER)
    f = lambda: lo_f + (1 + JITTER - lo_f) * u(B)       # noqa: E731 ColorJitter's range of factors
    x = adjust_brightness(x, f(), lo, hi)
    x = adjust_contrast(x, f(), lo, hi)''',
    "saturation": '''
    x = adjust_saturation(x, f(), lo, hi)''',
    "clean": '''
    clean = x''',
    "noise": '''
    x = (x + NOISE_STD * torch.randn(x.shape, generator=g, device=x.device)).clamp(lo, hi)''',
    "erase": '''
    x = erase(x, u(B) < ERASE, u(B), u(B), u(B), u(B))''',
}
NAMES = {"flip": "FLIP", "crop": "CROP", "shift": "SHIFT", "rotate": "ROTATE", "jitter": "JITTER",
         "noise": "NOISE_STD", "erase": "ERASE"}
WHAT = {"flip": "a horizontal flip", "crop": "a random resized crop", "shift": "a shift",
        "rotate": "a rotation", "jitter": "brightness and contrast jitter", "noise": "Gaussian noise",
        "erase": "a random erased box"}


def augment_code(spec: dict, input_shape: tuple) -> str:
    """The script's augmentation section for the transforms of spec that are on ({} for none: '')."""
    on = {k: float(spec[k]) for k in A.ORDER if spec.get(k)}
    if not on:
        return ""
    colour = input_shape[0] == 3
    consts = [(NAMES[k], v, A.AUGMENTS[k][1]) for k, v in on.items()]
    consts.append(("SALT", A.SALT, "keeps the augmentation's seeds apart from SEED, SEED + 1, SEED + 2"))
    if "crop" in on:
        consts.append(("CROP_RATIO", A.CROP_RATIO, "RandomResizedCrop's range of aspect ratios"))
    if "erase" in on:
        consts += [("ERASE_SCALE", A.ERASE_SCALE, "RandomErasing's share of the area"),
                   ("ERASE_RATIO", A.ERASE_RATIO, "and its aspect ratios")]
    if "jitter" in on:
        consts.append(("GREY", A.GREY, "RGB -> grey weights (torchvision's)"))
    helpers = [A.step_seed]
    for k in on:
        helpers += HELPERS.get(k, [])
    if "jitter" in on and colour:
        helpers.append(A.adjust_saturation)
    geometric = [k for k in A.GEOMETRIC if k in on]
    if geometric:
        helpers.append(A.warp)
    body = [DOC]
    if "flip" in on:
        body.append(STEPS["flip"])
    if geometric:
        body += [STEPS["geometric"], *(STEPS[k] for k in geometric), STEPS["warp"]]
    if "jitter" in on:
        body.append(STEPS["jitter"] + (STEPS["saturation"] if colour else ""))
    corrupt = [k for k in ("noise", "erase") if k in on]
    body += ([STEPS["clean"], *(STEPS[k] for k in corrupt), "\n    return clean, x"] if corrupt
             else ["\n    return x, x"])
    what = ", then ".join(WHAT[k] for k in on)
    split = ("\n    The clean version (the target of an autoencoder) has every transform but "
             f"{' and '.join(WHAT[k] for k in corrupt)}; the input adds {'them' if len(corrupt) > 1 else 'it'}."
             if corrupt else "\n    No transform here corrupts the image: the clean version is the input.")
    uniform = UNIFORM if set(on) - {"noise"} else ""          # noise alone draws normals only
    fn = Template("".join(body)).substitute(shape=shape_text(input_shape), what=what, split=split, uniform=uniform)
    sources = [inspect.getsource(h).strip("\n") for h in dict.fromkeys(helpers)]
    return "\n\n\n".join([f"{RULE} data augmentation (training batches only)\n{constants(consts)}", *sources,
                          fn.strip("\n")])
