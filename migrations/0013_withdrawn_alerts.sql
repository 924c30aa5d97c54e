-- An alert whose readings over the limit were all corrected or deleted is withdrawn: closed,
-- with an event of its own, so that the centre that was warned learns the warning is void.
ALTER TABLE sta.alert_events DROP CONSTRAINT alert_events_event_check;
ALTER TABLE sta.alert_events ADD CONSTRAINT alert_events_event_check
    CHECK (event IN ('opened', 'updated', 'closed', 'acknowledged', 'withdrawn'));
