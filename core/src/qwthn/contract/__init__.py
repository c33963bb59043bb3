"""The backend contract: circuit IR, gate table, backend base class and hook specifications."""
