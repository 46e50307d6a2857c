-- expect: none
TRUNCATE import_buffer;
