import { InMemoryImageRepository } from './in-memory-image-repository';
import { describeImageRepositoryContract } from './image-repository-contract';

describeImageRepositoryContract('InMemoryImageRepository', async () => new InMemoryImageRepository());
