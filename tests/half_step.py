"""A user's own torch optimizer, θ ← θ − lr·g/2 counting its steps in its state, written once as source:
test_torch_classes.py defines it as a class in the test's process, test_app_torch.py writes it into a module
of its own on sys.path (a canary that marks its import)."""

SOURCE = '''
class HalfStep(torch.optim.Optimizer):
    """A user's own optimizer: θ ← θ − lr·g/2, counting its steps in its state."""

    def __init__(self, params, lr=0.1):
        super().__init__(params, dict(lr=lr))

    @torch.no_grad()
    def step(self, closure=None):
        with torch.enable_grad():
            loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                p -= group["lr"] * p.grad / 2
                self.state[p]["count"] = self.state[p].get("count", 0) + 1
        return loss
'''


def source(name: str = "HalfStep") -> str:
    """The class's source, named ``name``."""
    return SOURCE.replace("class HalfStep(", f"class {name}(")


def define(name: str = "HalfStep") -> type:
    """The class itself, as a user's module defines it (its module: half_step)."""
    import torch

    namespace = {"torch": torch, "__name__": __name__}
    exec(source(name), namespace)  # noqa: S102 - this file's own source
    return namespace[name]
