# One date-time format across the console, short enough for a table column.
DATETIME_FORMAT = "d/m/Y H:i"
SHORT_DATETIME_FORMAT = "d/m/Y H:i"
DATE_FORMAT = "d/m/Y"
