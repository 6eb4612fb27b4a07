"""Register every hexa_mm module in its registry."""
import datetime
import warnings

from mmengine.registry import DefaultScope


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import hexa_mm's modules so that their classes are registered.

    Args:
        init_default_scope (bool): Also make ``hexa_mm`` the current default
            scope (a new instance if another scope is current). Defaults to
            True.
    """
    import hexa_mm.datasets  # noqa: F401
    import hexa_mm.engine  # noqa: F401
    import hexa_mm.evaluation  # noqa: F401
    import hexa_mm.models  # noqa: F401
    if not init_default_scope:
        return
    current = DefaultScope.get_current_instance()
    if current is None or current.scope_name != 'hexa_mm':
        if current is not None:
            warnings.warn(f'default scope {current.scope_name!r} replaced by '
                          "'hexa_mm'")
        name = f'hexa_mm-{datetime.datetime.now()}'
        DefaultScope.get_instance(name, scope_name='hexa_mm')
