-- expect: detach-partition-non-concurrently
ALTER TABLE measurements DETACH PARTITION measurements_2022;
