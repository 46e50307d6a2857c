-- expect: create-index-non-concurrently
CREATE INDEX "IX_Orders_Status" ON "Orders" ("Status");
