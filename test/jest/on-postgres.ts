// The services suite: test servers and the specs' own checks read this to use a fresh PostgreSQL database each.
process.env.AUTOCODE_TEST_DB = 'postgres';
