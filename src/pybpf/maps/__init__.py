"""Building blocks of the live :class:`pybpf.map.Map`: codecs, per-type traits, batch ops, creation from a spec, and the user API (:mod:`.api`) that the VM's maps share."""
