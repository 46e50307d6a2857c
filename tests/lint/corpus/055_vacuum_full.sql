-- expect: vacuum-full-or-cluster
VACUUM FULL orders;
