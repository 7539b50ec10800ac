"""Curriculum training utilities: clip_grad_norm (torch.nn.utils.clip_grad_norm_) and
lr_scheduler (torch.optim.lr_scheduler)."""

import torch

from case import DTYPES, TOLERANCE, register, rng, tensor, tensor_json, json_option

GRAD_SHAPES = [(5, 3), (5,), (2, 5)]
# The learning-rate schedules are exact arithmetic in f64.
LR_TOLERANCE = (1e-12, 1e-15)


@register("clip_grad_norm")
def clip_grad_norm():
    # torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type) on parameters whose .grad
    # are grad0..grad2. Output: the total norm before clipping; clippedK: the gradients after.
    for dt in DTYPES:
        r = rng("clip_grad_norm", dt)
        grads = {f"grad{i}": r.randn(s, dt) for i, s in enumerate(GRAD_SHAPES)}
        for max_norm, norm_type in [(1.0, 2.0), (0.1, 2.0), (100.0, 2.0), (0.5, float("inf")), (0.5, 1.0)]:
            name = f"clip_grad_norm/{dt}/m{max_norm}/p{norm_type}"
            params = []
            for g in grads.values():
                p = torch.zeros_like(g, requires_grad=True)
                p.grad = g.clone()
                params.append(p)
            total = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type)
            rtol, atol = TOLERANCE[dt]
            yield {
                "name": name,
                "op": "clip_grad_norm",
                "dtype": dt,
                "args": {k: tensor_json(g) for k, g in grads.items()},
                "requires_grad": [],
                "options": {"max_norm": max_norm, "norm_type": json_option(norm_type)},
                "rtol": rtol,
                "atol": atol,
                "expected": {"output": tensor_json(total),
                             **{f"clipped{i}": tensor_json(p.grad) for i, p in enumerate(params)}},
            }


SCHEDULERS = [
    ("StepLR", {"step_size": 3, "gamma": 0.5}),
    ("MultiStepLR", {"milestones": [2, 5], "gamma": 0.1}),
    ("ExponentialLR", {"gamma": 0.9}),
    ("CosineAnnealingLR", {"T_max": 10, "eta_min": 0.001}),
    ("LinearLR", {"start_factor": 0.25, "end_factor": 1.0, "total_iters": 4}),
    ("OneCycleLR", {"max_lr": 0.5, "total_steps": 12}),
]


@register("lr_scheduler")
def lr_scheduler():
    # One parameter, torch.optim.SGD or AdamW(lr=0.1), torch.optim.lr_scheduler.<scheduler>(**kwargs);
    # steps times: record the lr, optimizer.step(), scheduler.step(). Output: the lrs (f64).
    lr, steps = 0.1, 12
    for scheduler, kwargs in SCHEDULERS:
        for optimizer in ("sgd", "adamw"):
            param = torch.zeros(1, requires_grad=True)
            opt = {"sgd": torch.optim.SGD, "adamw": torch.optim.AdamW}[optimizer]([param], lr=lr)
            sched = getattr(torch.optim.lr_scheduler, scheduler)(opt, **kwargs)
            lrs = []
            for _ in range(steps):
                lrs.append(opt.param_groups[0]["lr"])
                opt.step()
                sched.step()
            rtol, atol = LR_TOLERANCE
            yield {
                "name": f"lr_scheduler/{scheduler}/{optimizer}",
                "op": "lr_scheduler",
                "dtype": "f64",
                "args": {},
                "requires_grad": [],
                "options": {"scheduler": scheduler, "kwargs": kwargs, "optimizer": optimizer, "lr": lr, "steps": steps},
                "rtol": rtol,
                "atol": atol,
                "expected": {"output": tensor_json(tensor(lrs, "f64"))},
            }
