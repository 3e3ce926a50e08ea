"""The CF NetCDF reader, in three modules.

:mod:`.reader` (the format), :mod:`.field` (which variable is rain, and its decoding) and
:mod:`.coords` (times and the grid from CF coordinates).
"""
