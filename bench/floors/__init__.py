"""The floors: the least a function doing the same job must do, as small Lambda handlers.

They run the way the functions run in the benchmarks (same loader, same stand-in AWS, moto when
counting), so a ratio to them is the cost of everything the project adds.
"""
