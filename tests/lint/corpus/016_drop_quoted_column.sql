-- expect: drop-column
ALTER TABLE "Accounts" DROP COLUMN "LastLoginIP";
