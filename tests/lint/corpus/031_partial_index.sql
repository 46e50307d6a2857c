-- expect: create-index-non-concurrently
create index idx_jobs_pending on jobs (created_at) where state = 'pending';
