"""A config that formats its text once for each content."""
import copy

from mmengine.config import Config

__all__ = ['FormatOnceConfig']


class FormatOnceConfig(Config):
    """:class:`mmengine.config.Config` whose ``pretty_text`` is formatted by
    yapf once for each content, not on every read.

    mmengine's runner reads ``cfg.pretty_text`` when it logs the config,
    when the runtime-info hook and the visualizer record it, when it dumps it
    into the work dir, and again for every checkpoint (the text goes into
    its ``meta``); each read formats the whole config with yapf, about half
    a second of CPU for a small config. The text is the same each time
    unless the config changed: this class keeps the last formatted text
    beside the plain text it came from (mmengine's own rendering, without
    yapf, cheap) and formats again only when the plain text differs. What
    it returns is always what :class:`~mmengine.config.Config` would.
    """

    @classmethod
    def of(cls, cfg: Config) -> 'FormatOnceConfig':
        """The same config, as this class (a shallow copy: the options are
        shared with ``cfg``).

        Args:
            cfg (Config): Any config.

        Returns:
            FormatOnceConfig: ``cfg`` itself if it is one already.
        """
        if isinstance(cfg, cls):
            return cfg
        other = cls.__new__(cls)
        other.__dict__.update(cfg.__dict__)
        return other

    @property
    def pretty_text(self) -> str:
        """The formatted text, as :attr:`Config.pretty_text` gives it.

        Returns:
            str: The config as Python source.
        """
        if not self._format_python_code:
            return super().pretty_text
        plain = copy.copy(self)
        super(Config, plain).__setattr__('_format_python_code', False)
        key = plain.pretty_text
        cached = self.__dict__.get('_formatted')
        if cached is None or cached[0] != key:
            cached = (key, super().pretty_text)
            super(Config, self).__setattr__('_formatted', cached)
        return cached[1]
