//! Observations posted one per request, written together (group commit). A transaction per
//! reading spends most of its time in round trips and commits; here the readings that arrive
//! while one transaction runs queue, and the next transaction takes all of them. A reading is
//! answered only after its transaction has committed, so an answered reading is never lost; a
//! transaction that fails is retried one reading at a time, so one bad reading fails only its
//! own request.

use std::{collections::HashMap, sync::Arc};

use serde_json::{Map, Value as Json};
use sqlx::PgPool;
use tokio::sync::{Mutex, mpsc, oneshot};

use super::{
    alerts::Rules,
    model::EntitySet,
    observations::{self, NewObservation, Posted},
    read,
    write::{Author, Write},
};
use crate::{Error, Result};

/// Readings one transaction takes at most.
const MOST: usize = 256;
/// Transactions in flight at once: one gathers readings while the other commits.
const WRITERS: usize = 2;

/// A reading once its transaction has committed.
#[derive(Debug)]
pub struct Written {
    /// Its id.
    pub id: i64,
    /// Its properties as stored (for the answer).
    pub body: Map<String, Json>,
    /// Alert events its transaction wrote (the alert streams are woken when not 0).
    pub alert_events: u64,
}

struct Job {
    observation: NewObservation,
    author: Author,
    answer: oneshot::Sender<Result<Written>>,
}

/// The queue of single readings and the writers that empty it.
pub struct GroupCommit {
    jobs: mpsc::Sender<Job>,
}

impl GroupCommit {
    /// Starts the writers (on the current Tokio runtime).
    pub fn start(pool: PgPool, rules: Rules) -> Self {
        let (jobs, queue) = mpsc::channel(WRITERS * MOST);
        let queue = Arc::new(Mutex::new(queue));
        let rules = Arc::new(rules);
        for _ in 0..WRITERS {
            tokio::spawn(writer(pool.clone(), rules.clone(), queue.clone()));
        }
        Self { jobs }
    }

    /// Writes one reading (with the next transaction) and answers once it has committed.
    pub async fn add(&self, observation: NewObservation, author: Author) -> Result<Written> {
        let stopped = || Error::db("writing observations")(sqlx::Error::PoolClosed);
        let (answer, answered) = oneshot::channel();
        self.jobs.send(Job { observation, author, answer }).await.map_err(|_| stopped())?;
        answered.await.map_err(|_| stopped())?
    }
}

async fn writer(pool: PgPool, rules: Arc<Rules>, queue: Arc<Mutex<mpsc::Receiver<Job>>>) {
    let mut jobs = Vec::with_capacity(MOST);
    loop {
        // Waits for one reading, then takes every one queued behind it.
        if queue.lock().await.recv_many(&mut jobs, MOST).await == 0 {
            return;
        }
        write(&pool, &rules, std::mem::take(&mut jobs)).await;
    }
}

/// Writes the readings in one transaction, or, when that fails, each in its own.
async fn write(pool: &PgPool, rules: &Rules, jobs: Vec<Job>) {
    if jobs.len() > 1 {
        let posted = jobs.iter().map(|j| (j.observation.clone(), &j.author)).collect();
        if let Ok(mut written) = transaction(pool, rules, posted).await {
            for (job, written) in jobs.into_iter().zip(written.drain(..)) {
                // A caller that has gone away still has its reading stored.
                let _ = job.answer.send(Ok(written));
            }
            return;
        }
    }
    for job in jobs {
        let written = transaction(pool, rules, vec![(job.observation, &job.author)]).await;
        let _ = job.answer.send(written.map(|mut w| w.remove(0)));
    }
}

/// One transaction: the readings inserted, their alerts evaluated, their bodies read back.
async fn transaction(pool: &PgPool, rules: &Rules, posted: Vec<(NewObservation, &Author)>) -> Result<Vec<Written>> {
    let db = Error::db("a transaction of observations");
    let mut tx = pool.begin().await.map_err(db)?;
    // Each reading carries its author; the write's own is only a default none of them uses.
    let mut w = Write { conn: &mut tx, rules, author: posted[0].1, alert_events: 0 };
    let items = posted
        .into_iter()
        .map(|(observation, author)| Posted { observation, pointer: String::new(), author })
        .collect();
    let ids = observations::insert_posted(&mut w, items).await?;
    let alert_events = w.alert_events;
    let mut bodies: HashMap<i64, Map<String, Json>> = read::bodies(&mut tx, EntitySet::Observations, &ids).await?;
    tx.commit().await.map_err(Error::db("committing observations"))?;
    Ok(ids.into_iter().map(|id| Written { id, body: bodies.remove(&id).unwrap_or_default(), alert_events }).collect())
}
