"""Local runtime: the whole pipeline on one machine, AWS emulated by moto."""
