"""torch.hub entry points: every registered resnetzoo model, by its registry name.

    model = torch.hub.load("resnetzoo/resnetzoo", "resnet56_cifar", num_classes=100)
    model = torch.hub.load("/path/to/a/checkout", "resnet18_cifar", source="local")

The entry points are generated from ``resnetzoo.list_models()``, so a newly registered model is
available here without editing this file. Keyword arguments go to ``resnetzoo.create_model``.

torch.hub lists every public callable of this module as an entry point, so the imports live inside
the private helpers below and the module namespace holds only ``dependencies`` and the models.
"""

dependencies = ["torch", "torchvision", "huggingface_hub", "safetensors"]


def _entry_point(name):
    import functools

    import resnetzoo
    from resnetzoo.models.registry import get_model_factory

    # wraps() copies the factory's name, docstring and signature, so torch.hub.help shows the
    # library's own documentation.
    @functools.wraps(get_model_factory(name))
    def entry_point(**kwargs):
        return resnetzoo.create_model(name, **kwargs)

    return entry_point


def _add_entry_points(namespace):
    import resnetzoo

    for name in resnetzoo.list_models():
        namespace[name] = _entry_point(name)


_add_entry_points(globals())
