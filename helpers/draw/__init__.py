"""Pictures of numbers: the one colour engine, overlays, word and attention pictures, fonts.

:mod:`.viz` (colour engine, overlays, grids), :mod:`.textviz` (words, attention; the
highlighted words are in :mod:`.highlight`), :mod:`.explain`, :mod:`.fonts`.
"""
