"""vaxclean: clean Viet Nam's COVID-19 vaccination records against the population register."""

__version__ = "0.1.0"
DELTA_VERSION = "4.4.0"
SCALA_BINARY = "2.13"
SPARK_BINARY = "4.2"
