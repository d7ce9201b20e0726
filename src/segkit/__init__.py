"""segkit: decide how to split customers into groups, and prove the choice on your own data."""
__version__ = "0.1.0"
